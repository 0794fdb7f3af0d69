using IoTServerless.Core.Registry;
using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Tests.Security;

/// <summary>The broker's read-through cache over the real stores (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class DeviceDirectoryTests(AzuriteFixture azurite)
{
    (DeviceDirectory Directory, CertificateStore Store) Create(TimeSpan? lifetime)
    {
        var tables = TestTables.Provider(azurite);
        var store = new CertificateStore(tables);
        var policies = new PolicyStore(tables, Options.Create(new PlatformOptions()), TimeProvider.System, NullLogger<PolicyStore>.Instance);
        return (new DeviceDirectory(store, new ThingPrincipalStore(tables), new ThingStore(tables), new ThingGroupStore(tables), policies, lifetime), store);
    }

    static DeviceCertificate Certificate(string status)
    {
        var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var now = DateTimeOffset.UtcNow;
        return new DeviceCertificate(id, status, "pem", null, now, now, now, now.AddDays(1), "CN=x", "CN=ca", "01");
    }

    [Fact]
    public async Task WithALifetime_answersFromMemory_untilCleared()
    {
        var (directory, store) = Create(TimeSpan.FromMinutes(10));
        var certificate = Certificate(CertificateStatus.Active);
        await store.AddAsync(certificate, CancellationToken.None);
        Assert.Equal(CertificateStatus.Active, (await directory.GetCertificateAsync(certificate.CertificateId, CancellationToken.None))!.Status);

        var stored = (await store.GetAsync(certificate.CertificateId, CancellationToken.None))!;
        Assert.True(await store.TrySetStatusAsync(certificate.CertificateId, CertificateStatus.Revoked, stored.ETag!, DateTimeOffset.UtcNow, CancellationToken.None));

        Assert.Equal(CertificateStatus.Active, (await directory.GetCertificateAsync(certificate.CertificateId, CancellationToken.None))!.Status);
        directory.Clear();
        Assert.Equal(CertificateStatus.Revoked, (await directory.GetCertificateAsync(certificate.CertificateId, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task WithoutALifetime_alwaysReadsTheStore()
    {
        var (directory, store) = Create(null);
        var certificate = Certificate(CertificateStatus.Active);
        await store.AddAsync(certificate, CancellationToken.None);
        await directory.GetCertificateAsync(certificate.CertificateId, CancellationToken.None);
        var stored = (await store.GetAsync(certificate.CertificateId, CancellationToken.None))!;
        await store.TrySetStatusAsync(certificate.CertificateId, CertificateStatus.Inactive, stored.ETag!, DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.Equal(CertificateStatus.Inactive, (await directory.GetCertificateAsync(certificate.CertificateId, CancellationToken.None))!.Status);
    }
}
