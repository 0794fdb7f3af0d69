using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security;

namespace IoTServerless.Broker.Security;

public static class ServerCertificate
{
    public static X509Certificate2 Load(TlsOptions options)
        => CertificateFactory.LoadPem(options.ServerCertificatePath!, options.ServerKeyPath!);
}
