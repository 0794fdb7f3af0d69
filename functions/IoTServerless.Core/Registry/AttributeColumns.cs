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

    static string Hash(string name) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..32];
}
