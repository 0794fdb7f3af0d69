using System.Text;

namespace IoTServerless.Core.Storage;

/// <summary>
/// Table keys may not contain '/', '\', '#', '?' or control characters; ids from the outside world
/// are escaped reversibly (percent-style) before use as a key.
/// </summary>
public static class RowKeys
{
    public static string Escape(string value)
    {
        var needs = false;
        foreach (var c in value)
        {
            if (IsForbidden(c))
            {
                needs = true;
                break;
            }
        }
        if (!needs)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (IsForbidden(c))
            {
                sb.Append('%').Append(((int)c).ToString("X2"));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    static bool IsForbidden(char c) => c is '/' or '\\' or '#' or '?' or '%' || char.IsControl(c);
}
