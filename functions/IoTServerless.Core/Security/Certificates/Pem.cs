using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>Strict PEM reading: one certificate, or a CSR, with errors a user can act on.</summary>
public static class Pem
{
    const int MaxPemChars = 16 * 1024;

    public static X509Certificate2 ReadCertificate(string? pem, string field)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            throw CertificateException.Invalid($"{field} is required.");
        }
        if (pem.Length > MaxPemChars)
        {
            throw CertificateException.Invalid($"{field} is longer than {MaxPemChars} characters.");
        }
        try
        {
            return X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw CertificateException.Invalid($"{field} is not a PEM-encoded X.509 certificate: {ex.Message}");
        }
    }

    public static CertificateRequest ReadSigningRequest(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            throw CertificateException.Invalid("certificateSigningRequest is required.");
        }
        if (pem.Length > MaxPemChars)
        {
            throw CertificateException.Invalid($"certificateSigningRequest is longer than {MaxPemChars} characters.");
        }
        try
        {
            // Verifies the CSR's self-signature: proof that the requester holds the private key.
            return CertificateRequest.LoadSigningRequestPem(pem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default, RSASignaturePadding.Pkcs1);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw CertificateException.Invalid($"certificateSigningRequest is not a valid PEM-encoded PKCS#10 request: {ex.Message}");
        }
    }
}
