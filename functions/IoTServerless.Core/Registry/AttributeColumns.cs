using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;

namespace IoTServerless.Core.Registry;

/// <summary>
/// Attributes stored as entity properties so that list filters run in the table service: per
/// attribute, <c>A_{hash}</c> holds the value (queryable) and <c>N_{hash}</c> the name, where hash is
/// a hex SHA-256 prefix of the name (names may hold characters a property name may not).
/// </summary>
internal static class AttributeColumns
{
    const string ValuePrefix = "A_";
    const string NamePrefix = "N_";

    public static string ValueColumn(string attributeName) => ValuePrefix + Hash(attributeName);

    public static IReadOnlyDictionary<string, string> Read(TableEntity entity)
    {
        var attributes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in entity)
        {
            if (key.StartsWith(NamePrefix, StringComparison.Ordinal) && value is string name)
            {
                attributes[name] = entity.GetString(ValuePrefix + key[NamePrefix.Length..]) ?? "";
            }
        }
        return attributes;
    }

    /// <summary>Replaces the entity's attributes with <paramref name="attributes"/>.</summary>
    public static void Write(TableEntity entity, IReadOnlyDictionary<string, string> attributes)
    {
        foreach (var key in entity.Keys.Where(k => k.StartsWith(ValuePrefix, StringComparison.Ordinal) || k.StartsWith(NamePrefix, StringComparison.Ordinal)).ToList())
        {
            entity.Remove(key);
        }
        foreach (var (name, value) in attributes)
        {
            var hash = Hash(name);
            entity[NamePrefix + hash] = name;
            entity[ValuePrefix + hash] = value;
        }
    }

    /// <summary>
    /// AWS's <c>attributePayload</c> on update: with <paramref name="merge"/> the changes are merged into
    /// the stored attributes and an empty value removes one; without it they replace them all.
    /// </summary>
    public static Dictionary<string, string> Apply(IReadOnlyDictionary<string, string> stored, IReadOnlyDictionary<string, string> changes, bool merge)
    {
        var result = merge ? new Dictionary<string, string>(stored, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in changes)
        {
            if (value.Length == 0)
            {
                result.Remove(name);
            }
            else
            {
                result[name] = value;
            }
        }
        return result;
    }

    static string Hash(string name) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..32];
}
