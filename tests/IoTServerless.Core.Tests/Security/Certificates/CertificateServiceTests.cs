using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Tests.Security.Certificates;

/// <summary>AWS IoT's certificate rules over real Table storage (Azurite) and a real local CA.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class CertificateServiceTests(AzuriteFixture azurite) : IDisposable
{
    readonly string _caDirectory = Directory.CreateTempSubdirectory("platform-ca-").FullName;

    public void Dispose() => Directory.Delete(_caDirectory, recursive: true);

    (CertificateService Service, CertificateStore Store, LocalCertificateAuthority Ca) Create()
    {
        var tables = TestTables.Provider(azurite);
        var store = new CertificateStore(tables);
        var ca = new LocalCertificateAuthority(Options.Create(new CertificateAuthorityOptions { LocalDirectory = _caDirectory }));
        var service = new CertificateService(store, new ThingPrincipalStore(tables), new RegistrationCodeStore(tables), ca,
            new ThingStore(tables), new IdentityChangeFeed(tables, TimeProvider.System),
            new PolicyStore(tables, Options.Create(new PlatformOptions()), TimeProvider.System, NullLogger<PolicyStore>.Instance),
            Options.Create(new PlatformOptions()), TimeProvider.System, NullLogger<CertificateService>.Instance);
        return (service, store, ca);
    }

    static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    [Fact]
    public async Task CreateKeysAndCertificate_issuesACertificateForTheReturnedKeyFromThePlatformCa()
    {
        var (service, store, ca) = Create();

        var (record, publicKeyPem, privateKeyPem) = await service.CreateKeysAndCertificateAsync(setAsActive: true, CancellationToken.None);

        using var certificate = X509Certificate2.CreateFromPem(record.CertificatePem, privateKeyPem); // throws if the key does not match
        Assert.True(ChainsTo(certificate, await ca.GetCertificateAsync(CancellationToken.None)));
        Assert.Equal(CertificateFactory.GetCertificateId(certificate), record.CertificateId);
        Assert.Contains("BEGIN PUBLIC KEY", publicKeyPem, StringComparison.Ordinal);
        Assert.Equal(CertificateStatus.Active, (await store.GetAsync(record.CertificateId, CancellationToken.None))!.Status);
        Assert.Null(record.CaCertificateId); // issued by the platform itself: usable without registering its CA
        Assert.Contains(certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.2");
    }

    [Fact]
    public async Task CreateCertificateFromCsr_signsTheDevicesOwnKeyAndKeepsItsSubject()
    {
        var (service, store, ca) = Create();
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=soil-042, O=FarmA", deviceKey, HashAlgorithmName.SHA256).CreateSigningRequestPem();

        var record = await service.CreateCertificateFromCsrAsync(csr, setAsActive: false, CancellationToken.None);

        using var certificate = X509Certificate2.CreateFromPem(record.CertificatePem);
        Assert.Equal(deviceKey.ExportSubjectPublicKeyInfo(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal("CN=soil-042, O=FarmA", certificate.Subject);
        Assert.True(ChainsTo(certificate, await ca.GetCertificateAsync(CancellationToken.None)));
        Assert.Equal(CertificateStatus.Inactive, (await store.GetAsync(record.CertificateId, CancellationToken.None))!.Status);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----")]
    [InlineData("hello")]
    public async Task CreateCertificateFromCsr_withMalformedCsr_isInvalidRequest(string? csr)
    {
        var (service, _, _) = Create();
        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.CreateCertificateFromCsrAsync(csr, false, CancellationToken.None));
        Assert.Equal(400, ex.Status);
        Assert.Contains("certificateSigningRequest", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificateFromCsr_whoseSignatureDoesNotMatchItsKey_isRefused()
    {
        var (service, _, _) = Create();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // Subject key of one pair, signed by another: no proof of possession.
        var request = new CertificateRequest(new X500DistinguishedName("CN=forged"), new PublicKey(key), HashAlgorithmName.SHA256);
        var forged = request.CreateSigningRequestPem(X509SignatureGenerator.CreateForECDsa(other));

        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.CreateCertificateFromCsrAsync(forged, false, CancellationToken.None));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task RegisterCa_requiresProofOfPossession_andStoresNothingWithoutIt()
    {
        var (service, store, _) = Create();
        using var ca = CertificateFactory.CreateCertificateAuthority("Farm Vendor CA " + Guid.NewGuid().ToString("N")[..6]);
        var code = await service.GetRegistrationCodeAsync(CancellationToken.None);
        using var impostor = CertificateFactory.CreateCertificateAuthority("Impostor");
        using var verificationByOtherKey = CertificateFactory.CreateDeviceCertificate(impostor, code);
        using var wrongCode = CertificateFactory.CreateDeviceCertificate(ca, "not-the-code");

        var missing = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterCaAsync(ca.ExportCertificatePem(), null, true, false, CancellationToken.None));
        Assert.Contains("verificationCertificate", missing.Message, StringComparison.Ordinal);
        var otherKey = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterCaAsync(ca.ExportCertificatePem(), verificationByOtherKey.ExportCertificatePem(), true, false, CancellationToken.None));
        Assert.Contains("proof of possession", otherKey.Message, StringComparison.Ordinal);
        var badCode = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterCaAsync(ca.ExportCertificatePem(), wrongCode.ExportCertificatePem(), true, false, CancellationToken.None));
        Assert.Contains("registration code", badCode.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetCaAsync(CertificateFactory.GetCertificateId(ca), CancellationToken.None));

        using var verification = CertificateFactory.CreateDeviceCertificate(ca, code);
        var registered = await service.RegisterCaAsync(ca.ExportCertificatePem(), verification.ExportCertificatePem(), true, false, CancellationToken.None);
        Assert.Equal(CertificateStatus.Active, registered.Status);
        Assert.Equal(CertificateFactory.GetCertificateId(ca), registered.CertificateId);
        var again = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterCaAsync(ca.ExportCertificatePem(), verification.ExportCertificatePem(), true, false, CancellationToken.None));
        Assert.Equal(409, again.Status);
    }

    [Fact]
    public async Task RegisterCa_ofALeafCertificate_isInvalid()
    {
        var (service, _, _) = Create();
        using var ca = CertificateFactory.CreateCertificateAuthority("x");
        using var leaf = CertificateFactory.CreateDeviceCertificate(ca, "leaf");
        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterCaAsync(leaf.ExportCertificatePem(), leaf.ExportCertificatePem(), true, false, CancellationToken.None));
        Assert.Contains("not a CA certificate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_deviceCertificate_needsARegisteredCa_unlessWithoutCa()
    {
        var (service, store, _) = Create();
        using var ca = CertificateFactory.CreateCertificateAuthority("Vendor " + Guid.NewGuid().ToString("N")[..6]);
        using var device = CertificateFactory.CreateDeviceCertificate(ca, "pump-900");

        var unregistered = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterAsync(device.ExportCertificatePem(), null, "ACTIVE", CancellationToken.None));
        Assert.Equal(400, unregistered.Status);

        using var verification = CertificateFactory.CreateDeviceCertificate(ca, await service.GetRegistrationCodeAsync(CancellationToken.None));
        var registeredCa = await service.RegisterCaAsync(ca.ExportCertificatePem(), verification.ExportCertificatePem(), true, false, CancellationToken.None);
        var record = await service.RegisterAsync(device.ExportCertificatePem(), null, "ACTIVE", CancellationToken.None);
        Assert.Equal(registeredCa.CertificateId, record.CaCertificateId);
        Assert.Equal(CertificateStatus.Active, (await store.GetAsync(record.CertificateId, CancellationToken.None))!.Status);

        using var loner = CertificateFactory.CreateDeviceCertificate(CertificateFactory.CreateCertificateAuthority("Unknown"), "loner");
        var withoutCa = await service.RegisterWithoutCaAsync(loner.ExportCertificatePem(), null, CancellationToken.None);
        Assert.Null(withoutCa.CaCertificateId);
        Assert.Equal(CertificateStatus.Inactive, withoutCa.Status);
    }

    [Theory]
    [InlineData("not a pem")]
    [InlineData("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")]
    public async Task RegisterWithoutCa_malformedPem_isInvalidAndNamesTheField(string pem)
    {
        var (service, _, _) = Create();
        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterWithoutCaAsync(pem, null, CancellationToken.None));
        Assert.Equal(400, ex.Status);
        Assert.Contains("certificatePem", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegisterWithoutCa_expiredCertificate_isInvalid()
    {
        var (service, _, _) = Create();
        using var ca = CertificateFactory.CreateCertificateAuthority("x", notBefore: DateTimeOffset.UtcNow.AddDays(-30));
        using var old = CertificateFactory.CreateDeviceCertificate(ca, "old", DateTimeOffset.UtcNow.AddDays(-10), TimeSpan.FromDays(2));
        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.RegisterWithoutCaAsync(old.ExportCertificatePem(), null, CancellationToken.None));
        Assert.Contains("expired", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateStatus_revokedIsFinal_andUnknownStatusIsInvalid()
    {
        var (service, store, _) = Create();
        var (record, _, _) = await service.CreateKeysAndCertificateAsync(true, CancellationToken.None);

        await service.UpdateStatusAsync(record.CertificateId, "INACTIVE", CancellationToken.None);
        await service.UpdateStatusAsync(record.CertificateId, "ACTIVE", CancellationToken.None);
        await service.UpdateStatusAsync(record.CertificateId, "REVOKED", CancellationToken.None);
        var reactivate = await Assert.ThrowsAsync<CertificateException>(() => service.UpdateStatusAsync(record.CertificateId, "ACTIVE", CancellationToken.None));
        Assert.Equal("CertificateStateException", reactivate.Code);
        var bogus = await Assert.ThrowsAsync<CertificateException>(() => service.UpdateStatusAsync(record.CertificateId, "ENABLED", CancellationToken.None));
        Assert.Equal(400, bogus.Status);
        Assert.Equal(CertificateStatus.Revoked, (await store.GetAsync(record.CertificateId, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task Delete_activeCertificate_isRefused_inactiveIsDeleted()
    {
        var (service, store, _) = Create();
        var (record, _, _) = await service.CreateKeysAndCertificateAsync(true, CancellationToken.None);

        var active = await Assert.ThrowsAsync<CertificateException>(() => service.DeleteAsync(record.CertificateId, CancellationToken.None));
        Assert.Equal("CertificateStateException", active.Code);
        Assert.NotNull(await store.GetAsync(record.CertificateId, CancellationToken.None));

        await service.UpdateStatusAsync(record.CertificateId, "INACTIVE", CancellationToken.None);
        await service.DeleteAsync(record.CertificateId, CancellationToken.None);
        Assert.Null(await store.GetAsync(record.CertificateId, CancellationToken.None));
        var gone = await Assert.ThrowsAsync<CertificateException>(() => service.GetAsync(record.CertificateId, CancellationToken.None));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task Delete_certificateAttachedToAThing_isADeleteConflict()
    {
        var tables = TestTables.Provider(azurite);
        var (service, store, _) = Create();
        var (record, _, _) = await service.CreateKeysAndCertificateAsync(false, CancellationToken.None);
        await new ThingPrincipalStore(tables).AttachAsync("thing-" + Guid.NewGuid().ToString("N")[..8], record.CertificateId, CancellationToken.None);

        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.DeleteAsync(record.CertificateId, CancellationToken.None));
        Assert.Equal("DeleteConflictException", ex.Code);
        Assert.NotNull(await store.GetAsync(record.CertificateId, CancellationToken.None));
    }

    [Fact]
    public async Task Delete_certificateWithAnAttachedPolicy_isADeleteConflict()
    {
        var tables = TestTables.Provider(azurite);
        var (service, store, _) = Create();
        var (record, _, _) = await service.CreateKeysAndCertificateAsync(false, CancellationToken.None);
        var policies = new PolicyStore(tables, Options.Create(new PlatformOptions()), TimeProvider.System, NullLogger<PolicyStore>.Instance);
        var policy = "p-" + Guid.NewGuid().ToString("N")[..8];
        await policies.CreatePolicyAsync(policy, """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}""", CancellationToken.None);
        await policies.AttachPolicyAsync(policy, record.CertificateId, CancellationToken.None);

        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.DeleteAsync(record.CertificateId, CancellationToken.None));
        Assert.Equal("DeleteConflictException", ex.Code);
        Assert.NotNull(await store.GetAsync(record.CertificateId, CancellationToken.None));

        await policies.DetachPolicyAsync(policy, record.CertificateId, CancellationToken.None);
        await service.DeleteAsync(record.CertificateId, CancellationToken.None);
        Assert.Null(await store.GetAsync(record.CertificateId, CancellationToken.None));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("arn:aws:iot:local:000000000000:cert/XYZ")]
    [InlineData("deadbeef")]
    public async Task ListPrincipalThings_withABadPrincipal_isInvalid(string? principal)
    {
        var (service, _, _) = Create();
        var ex = await Assert.ThrowsAsync<CertificateException>(() => service.ListPrincipalThingsAsync(principal, CancellationToken.None));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task JustInTimeRegistration_onlyForAnActiveAutoRegisteringCaThatSignedTheCertificate()
    {
        var (service, store, _) = Create();
        var tables = TestTables.Provider(azurite);
        var name = "Vendor CA " + Guid.NewGuid().ToString("N")[..6];
        using var vendor = CertificateFactory.CreateCertificateAuthority(name);
        using var lookalike = CertificateFactory.CreateCertificateAuthority(name); // same subject, another key
        using var verification = CertificateFactory.CreateDeviceCertificate(vendor, await service.GetRegistrationCodeAsync(CancellationToken.None));
        var ca = await service.RegisterCaAsync(vendor.ExportCertificatePem(), verification.ExportCertificatePem(), setAsActive: true, allowAutoRegistration: true, CancellationToken.None);
        using var directory = new DeviceDirectory(store, new ThingPrincipalStore(tables), new ThingStore(tables), new ThingGroupStore(tables),
            new PolicyStore(tables, Options.Create(new PlatformOptions()), TimeProvider.System, NullLogger<PolicyStore>.Instance));
        var jitr = new JustInTimeRegistration(directory, store, Options.Create(new PlatformOptions { AccountId = "123456789012" }), TimeProvider.System, NullLogger<JustInTimeRegistration>.Instance);
        using var forged = CertificateFactory.CreateDeviceCertificate(lookalike, "pump-forged");
        using var genuine = CertificateFactory.CreateDeviceCertificate(vendor, "pump-genuine");

        Assert.Null(await jitr.TryRegisterAsync(forged, CancellationToken.None));
        Assert.Null(await store.GetAsync(CertificateFactory.GetCertificateId(forged), CancellationToken.None));

        var registered = await jitr.TryRegisterAsync(genuine, CancellationToken.None);
        Assert.NotNull(registered);
        Assert.Equal((CertificateFactory.GetCertificateId(genuine), ca.CertificateId, CertificateStatus.PendingActivation, "123456789012"),
            (registered.CertificateId, registered.CaCertificateId, registered.CertificateStatus, registered.AwsAccountId));
        var stored = await store.GetAsync(registered.CertificateId, CancellationToken.None);
        Assert.Equal((CertificateStatus.PendingActivation, ca.CertificateId), (stored!.Status, stored.CaCertificateId));
        Assert.Null(await jitr.TryRegisterAsync(genuine, CancellationToken.None)); // announced once

        await service.UpdateCaStatusAsync(ca.CertificateId, CertificateStatus.Inactive, CancellationToken.None);
        using var later = CertificateFactory.CreateDeviceCertificate(vendor, "pump-later");
        Assert.Null(await jitr.TryRegisterAsync(later, CancellationToken.None));
        Assert.Null(await store.GetAsync(CertificateFactory.GetCertificateId(later), CancellationToken.None));
    }
}
