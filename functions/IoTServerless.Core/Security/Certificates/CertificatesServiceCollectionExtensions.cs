using IoTServerless.Core.Security.Changes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Security.Certificates;

public static class CertificatesServiceCollectionExtensions
{
    /// <summary>Certificate stores, the certificate service and the platform CA (Local or KeyVault, from configuration).</summary>
    public static IServiceCollection AddCertificates(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CertificateAuthorityOptions>().Bind(configuration.GetSection(CertificateAuthorityOptions.SectionName));
        services.AddSingleton<CertificateStore>();
        services.AddSingleton<ThingPrincipalStore>();
        services.AddSingleton<RegistrationCodeStore>();
        services.AddSingleton<CertificateService>();
        services.TryAddSingleton<IdentityChangeFeed>();
        var kind = configuration.GetSection(CertificateAuthorityOptions.SectionName)["Kind"] ?? "Local";
        if (string.Equals(kind, "KeyVault", StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton<ICertificateAuthority>(sp => KeyVaultCertificateAuthority.Create(sp.GetRequiredService<IOptions<CertificateAuthorityOptions>>().Value));
        }
        else
        {
            services.AddSingleton<ICertificateAuthority, LocalCertificateAuthority>();
        }
        return services;
    }
}
