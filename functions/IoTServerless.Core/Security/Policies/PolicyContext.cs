using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

namespace IoTServerless.Core.Security.Policies;

/// <summary>
/// What a connection's policy variables and condition keys resolve from. <see cref="Thing"/> is the
/// thing named like the client id when it is attached to the connecting certificate; thing
/// variables resolve only then (<see cref="IsThingAttached"/>).
/// </summary>
public sealed record PolicyContext
{
    public static readonly PolicyContext Empty = new();

    public string? ClientId { get; init; }

    public PolicyThing? Thing { get; init; }

    public PolicyCertificate? Certificate { get; init; }

    /// <summary>True when a thing is given and its name equals the client id.</summary>
    public bool IsThingAttached => Thing is not null && ClientId is not null && string.Equals(Thing.ThingName, ClientId, StringComparison.Ordinal);
}

public sealed record PolicyThing(string ThingName, string? ThingTypeName = null, IReadOnlyDictionary<string, string>? Attributes = null)
{
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = Attributes ?? new Dictionary<string, string>();
}

/// <summary>
/// The certificate fields policies can use. <see cref="Subject"/>/<see cref="Issuer"/> are keyed by
/// AWS's field names: CommonName, Organization, OrganizationalUnit, Country, Locality, State,
/// SerialNumber, Title, Surname, GivenName, Initials, Pseudonym, GenerationQualifier,
/// DistinguishedNameQualifier (a repeated field keeps its first value).
/// </summary>
public sealed class PolicyCertificate
{
    readonly byte[]? _subjectName;
    IReadOnlyDictionary<string, string>? _subject;

    public PolicyCertificate(string? certificateId, string? serialNumber, IReadOnlyDictionary<string, string> subject, IReadOnlyDictionary<string, string> issuer)
    {
        CertificateId = certificateId;
        SerialNumber = serialNumber;
        _subject = subject;
        Issuer = issuer;
    }

    PolicyCertificate(string? certificateId, string? serialNumber, byte[] subjectName, IReadOnlyDictionary<string, string> issuer)
    {
        CertificateId = certificateId;
        SerialNumber = serialNumber;
        _subjectName = subjectName;
        Issuer = issuer;
    }

    public string? CertificateId { get; }

    public string? SerialNumber { get; }

    /// <summary>
    /// The subject's fields. Of a certificate read with <see cref="FromX509"/>, parsed on first use:
    /// most policies never name one, and a connection then holds only the encoded name.
    /// </summary>
    public IReadOnlyDictionary<string, string> Subject => _subject ??= Fields(new X500DistinguishedName(_subjectName!));

    public IReadOnlyDictionary<string, string> Issuer { get; }

    static readonly Dictionary<string, string> FieldByOid = new(StringComparer.Ordinal)
    {
        ["2.5.4.3"] = "CommonName",
        ["2.5.4.10"] = "Organization",
        ["2.5.4.11"] = "OrganizationalUnit",
        ["2.5.4.6"] = "Country",
        ["2.5.4.7"] = "Locality",
        ["2.5.4.8"] = "State",
        ["2.5.4.5"] = "SerialNumber",
        ["2.5.4.12"] = "Title",
        ["2.5.4.4"] = "Surname",
        ["2.5.4.42"] = "GivenName",
        ["2.5.4.43"] = "Initials",
        ["2.5.4.65"] = "Pseudonym",
        ["2.5.4.44"] = "GenerationQualifier",
        ["2.5.4.46"] = "DistinguishedNameQualifier",
    };

    /// <summary>Issuer fields by the issuer's DER name: a fleet has few issuers, and every connection of one shares them.</summary>
    static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, string>> IssuerFields = new(StringComparer.Ordinal);
    const int MaxSharedIssuers = 256;

    /// <summary>
    /// The fields of an X.509 certificate. <paramref name="certificateId"/> defaults to AWS's
    /// certificate id: the lowercase hex SHA-256 of the DER encoding.
    /// </summary>
    public static PolicyCertificate FromX509(X509Certificate2 certificate, string? certificateId = null)
    {
        var issuer = certificate.IssuerName;
        var issuerKey = Convert.ToBase64String(issuer.RawData);
        if (!IssuerFields.TryGetValue(issuerKey, out var issuerFields))
        {
            issuerFields = Fields(issuer);
            if (IssuerFields.Count < MaxSharedIssuers)
            {
                issuerFields = IssuerFields.GetOrAdd(issuerKey, issuerFields);
            }
        }
        return new(
            certificateId ?? CertificateFactory.GetCertificateId(certificate),
            certificate.SerialNumber,
            certificate.SubjectName.RawData,
            issuerFields);
    }

    /// <summary>
    /// The fields of a distinguished name. The name is parsed from a copy, so a certificate that
    /// stays in memory as long as its connection does not keep the parsed attributes too.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Fields(X500DistinguishedName name)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var rdn in new X500DistinguishedName(name.RawData).EnumerateRelativeDistinguishedNames())
        {
            if (rdn.HasMultipleElements)
            {
                continue;
            }
            if (rdn.GetSingleElementType().Value is { } oid && FieldByOid.TryGetValue(oid, out var field) && rdn.GetSingleElementValue() is { } value)
            {
                fields.TryAdd(field, value);
            }
        }
        return fields;
    }
}
