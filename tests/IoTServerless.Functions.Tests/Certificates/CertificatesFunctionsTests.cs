using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using IoTServerless.Core.Security;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Certificates;

/// <summary>The certificate API over real HTTP, storing in Azurite, signing with a real local CA.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class CertificatesFunctionsTests(AzuriteFixture azurite) : IAsyncLifetime
{
    readonly string _caDirectory = Directory.CreateTempSubdirectory("platform-ca-").FullName;
    TestFunctionApp _app = null!;
    HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _app = await TestFunctionApp.StartAsync(azurite.ConnectionString, settings: new Dictionary<string, string?> { ["CertificateAuthority:LocalDirectory"] = _caDirectory });
        _http = _app.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        Directory.Delete(_caDirectory, recursive: true);
    }

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    async Task<JsonElement> OkJsonAsync(HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string mentions)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(mentions, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateKeysAndCertificate_thenDescribeUpdateDelete_followsAwsRules()
    {
        var created = await OkJsonAsync(await _http.PostAsync("api/keys-and-certificate?setAsActive=true", null));
        var id = created.GetProperty("certificateId").GetString()!;
        Assert.Equal($"arn:aws:iot:local:000000000000:cert/{id}", created.GetProperty("certificateArn").GetString());
        using var certificate = X509Certificate2.CreateFromPem(created.GetProperty("certificatePem").GetString(), created.GetProperty("keyPair").GetProperty("PrivateKey").GetString());
        Assert.Equal(id, CertificateFactory.GetCertificateId(certificate));

        var described = (await OkJsonAsync(await _http.GetAsync($"api/certificates/{id}"))).GetProperty("certificateDescription");
        Assert.Equal("ACTIVE", described.GetProperty("status").GetString());

        await AssertProblemAsync(await _http.DeleteAsync($"api/certificates/{id}"), HttpStatusCode.Conflict, "deactivate");
        await AssertProblemAsync(await _http.PutAsync($"api/certificates/{id}?newStatus=BOGUS", null), HttpStatusCode.BadRequest, "BOGUS");
        using (var revoke = await _http.PutAsync($"api/certificates/{id}?newStatus=REVOKED", null))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }
        await AssertProblemAsync(await _http.PutAsync($"api/certificates/{id}?newStatus=ACTIVE", null), HttpStatusCode.Conflict, "REVOKED");
        using (var delete = await _http.DeleteAsync($"api/certificates/{id}"))
        {
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"api/certificates/{id}")).StatusCode);
    }

    [Fact]
    public async Task CreateCertificateFromCsr_returnsACertificateForTheCsrKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=soil-100", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var created = await OkJsonAsync(await _http.PostAsync("api/certificates?setAsActive=true", Json(new { certificateSigningRequest = csr })));
        using var certificate = X509Certificate2.CreateFromPem(created.GetProperty("certificatePem").GetString());
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
    }

    [Theory]
    [InlineData("api/certificates", "{not json", "not valid JSON")]
    [InlineData("api/certificates", "[]", "JSON object")]
    [InlineData("api/certificates", "{\"certificateSigningRequest\": 42}", "certificateSigningRequest must be a string")]
    [InlineData("api/certificates", "{\"certificateSigningRequest\": \"garbage\"}", "certificateSigningRequest")]
    [InlineData("api/certificate/register-no-ca", "{}", "certificatePem is required")]
    [InlineData("api/certificate/register-no-ca", "{\"certificatePem\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\"}", "certificatePem")]
    [InlineData("api/cacertificate", "{\"caCertificate\": \"nope\"}", "caCertificate")]
    public async Task BadBodies_are400ProblemsNamingTheProblem(string url, string body, string mentions)
    {
        using var response = await _http.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, mentions);
    }

    [Fact]
    public async Task RegisterCaCertificate_withProofOfPossession_thenDeviceCertificatesOfThatCa()
    {
        var code = (await OkJsonAsync(await _http.GetAsync("api/registrationcode"))).GetProperty("registrationCode").GetString()!;
        using var vendorCa = CertificateFactory.CreateCertificateAuthority("Vendor CA " + Guid.NewGuid().ToString("N")[..6]);
        using var verification = CertificateFactory.CreateDeviceCertificate(vendorCa, code);
        using var impostor = CertificateFactory.CreateCertificateAuthority("impostor");
        using var forged = CertificateFactory.CreateDeviceCertificate(impostor, code);

        await AssertProblemAsync(await _http.PostAsync("api/cacertificate?setAsActive=true",
            Json(new { caCertificate = vendorCa.ExportCertificatePem(), verificationCertificate = forged.ExportCertificatePem() })), HttpStatusCode.BadRequest, "proof of possession");

        var ca = await OkJsonAsync(await _http.PostAsync("api/cacertificate?setAsActive=true",
            Json(new { caCertificate = vendorCa.ExportCertificatePem(), verificationCertificate = verification.ExportCertificatePem() })));
        var caId = ca.GetProperty("certificateId").GetString()!;
        Assert.Equal("ACTIVE", (await OkJsonAsync(await _http.GetAsync($"api/cacertificate/{caId}"))).GetProperty("certificateDescription").GetProperty("status").GetString());

        using var device = CertificateFactory.CreateDeviceCertificate(vendorCa, "pump-321");
        var registered = await OkJsonAsync(await _http.PostAsync("api/certificate/register", Json(new { certificatePem = device.ExportCertificatePem(), status = "ACTIVE" })));
        var description = (await OkJsonAsync(await _http.GetAsync($"api/certificates/{registered.GetProperty("certificateId").GetString()}"))).GetProperty("certificateDescription");
        Assert.Equal(caId, description.GetProperty("caCertificateId").GetString());
        Assert.Equal("ACTIVE", description.GetProperty("status").GetString());
    }

    [Fact]
    public async Task AttachThingPrincipal_linksCertificateAndThingBothWays()
    {
        var thing = "pump-" + Guid.NewGuid().ToString("N")[..8];
        using (var create = await _http.PostAsync($"api/things/{thing}", Json(new { })))
        {
            Assert.True(create.IsSuccessStatusCode, await create.Content.ReadAsStringAsync());
        }
        var created = await OkJsonAsync(await _http.PostAsync("api/keys-and-certificate?setAsActive=true", null));
        var arn = created.GetProperty("certificateArn").GetString()!;

        using var attach = new HttpRequestMessage(HttpMethod.Put, $"api/things/{thing}/principals") { Headers = { { "x-amzn-principal", arn } } };
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(attach)).StatusCode);

        var principals = await OkJsonAsync(await _http.GetAsync($"api/things/{thing}/principals"));
        Assert.Equal(arn, Assert.Single(principals.GetProperty("principals").EnumerateArray()).GetString());
        using var list = new HttpRequestMessage(HttpMethod.Get, "api/principals/things") { Headers = { { "x-amzn-principal", arn } } };
        var things = await OkJsonAsync(await _http.SendAsync(list));
        Assert.Equal(thing, Assert.Single(things.GetProperty("things").EnumerateArray()).GetString());

        using (var deleteAttached = await _http.DeleteAsync($"api/things/{thing}"))
        {
            await AssertProblemAsync(deleteAttached, HttpStatusCode.BadRequest, "principals");
        }
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync($"api/things/{thing}")).StatusCode);

        using var toMissingThing = new HttpRequestMessage(HttpMethod.Put, "api/things/no-such-thing-xyz/principals") { Headers = { { "x-amzn-principal", arn } } };
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(toMissingThing)).StatusCode);
        using var noPrincipal = new HttpRequestMessage(HttpMethod.Put, $"api/things/{thing}/principals");
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.SendAsync(noPrincipal)).StatusCode);
    }
}
