using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace IoTServerless.Core.Rules.Sql;

/// <summary>
/// parse_time's Joda-Time pattern formatting. Supported letters: G (era), C (century), Y/y/u (year; yy = two
/// digits), x (week year), w (week of week year, ISO), e (ISO day of week number), E (day name: E..EEE short, EEEE
/// full), D (day of year), M (month: M/MM number, MMM short name, MMMM full name), d, a (AM/PM), K, h, H, k, m, s,
/// S (fraction of second, one digit per S), Z (offset: Z = -0600, ZZ = -06:00, ZZZ = zone id), z (zone: UTC for UTC,
/// otherwise the offset; zzzz = zone id). Text in single quotes is literal ('' is a quote); other non-letters
/// are copied. English names.
/// </summary>
internal static class JodaTime
{
    static readonly ConcurrentDictionary<string, TimeZoneInfo?> Zones = new(StringComparer.OrdinalIgnoreCase);

    public static TimeZoneInfo? FindZone(string id)
    {
        if (Zones.TryGetValue(id, out var zone))
        {
            return zone;
        }
        zone = Lookup(id);
        if (Zones.Count < 1024)
        {
            Zones.TryAdd(id, zone);
        }
        return zone;
    }

    static TimeZoneInfo? Lookup(string key)
    {
        if (key.Equals("UTC", StringComparison.OrdinalIgnoreCase) || key.Equals("Z", StringComparison.OrdinalIgnoreCase) || key.Equals("GMT", StringComparison.OrdinalIgnoreCase))
        {
            return TimeZoneInfo.Utc;
        }
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(key);
        }
        catch (TimeZoneNotFoundException)
        {
            return null;
        }
        catch (InvalidTimeZoneException)
        {
            return null;
        }
    }

    public static string? Format(string pattern, long epochMillis, TimeZoneInfo zone, string zoneId)
    {
        var utc = DateTimeOffset.FromUnixTimeMilliseconds(epochMillis);
        var local = TimeZoneInfo.ConvertTime(utc, zone);
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder(pattern.Length + 16);
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            if (c == '\'')
            {
                if (i + 1 < pattern.Length && pattern[i + 1] == '\'')
                {
                    output.Append('\'');
                    i += 2;
                    continue;
                }
                var end = pattern.IndexOf('\'', i + 1);
                if (end < 0)
                {
                    return null;
                }
                output.Append(pattern, i + 1, end - i - 1);
                i = end + 1;
                continue;
            }
            if (!char.IsAsciiLetter(c))
            {
                output.Append(c);
                i++;
                continue;
            }
            var count = 1;
            while (i + count < pattern.Length && pattern[i + count] == c)
            {
                count++;
            }
            i += count;
            switch (c)
            {
                case 'G':
                    output.Append(local.Year > 0 ? "AD" : "BC");
                    break;
                case 'C':
                    Number(output, local.Year / 100, count);
                    break;
                case 'y' or 'Y' or 'u':
                    Year(output, local.Year, count);
                    break;
                case 'x':
                    Year(output, ISOWeek.GetYear(local.DateTime), count);
                    break;
                case 'w':
                    Number(output, ISOWeek.GetWeekOfYear(local.DateTime), count);
                    break;
                case 'e':
                    Number(output, local.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)local.DayOfWeek, count);
                    break;
                case 'E':
                    output.Append(count >= 4 ? culture.DateTimeFormat.GetDayName(local.DayOfWeek) : culture.DateTimeFormat.GetAbbreviatedDayName(local.DayOfWeek));
                    break;
                case 'D':
                    Number(output, local.DayOfYear, count);
                    break;
                case 'M':
                    if (count >= 4)
                    {
                        output.Append(culture.DateTimeFormat.GetMonthName(local.Month));
                    }
                    else if (count == 3)
                    {
                        output.Append(culture.DateTimeFormat.GetAbbreviatedMonthName(local.Month));
                    }
                    else
                    {
                        Number(output, local.Month, count);
                    }
                    break;
                case 'd':
                    Number(output, local.Day, count);
                    break;
                case 'a':
                    output.Append(local.Hour < 12 ? "AM" : "PM");
                    break;
                case 'K':
                    Number(output, local.Hour % 12, count);
                    break;
                case 'h':
                    Number(output, local.Hour % 12 == 0 ? 12 : local.Hour % 12, count);
                    break;
                case 'H':
                    Number(output, local.Hour, count);
                    break;
                case 'k':
                    Number(output, local.Hour == 0 ? 24 : local.Hour, count);
                    break;
                case 'm':
                    Number(output, local.Minute, count);
                    break;
                case 's':
                    Number(output, local.Second, count);
                    break;
                case 'S':
                    var fraction = local.Millisecond.ToString("000", culture);
                    output.Append(count <= 3 ? fraction[..count] : fraction.PadRight(count, '0'));
                    break;
                case 'Z':
                    if (count >= 3)
                    {
                        output.Append(zone == TimeZoneInfo.Utc ? "UTC" : zoneId);
                    }
                    else
                    {
                        Offset(output, local.Offset, colon: count == 2, utcAsZ: false);
                    }
                    break;
                case 'z':
                    if (count >= 4)
                    {
                        output.Append(zone == TimeZoneInfo.Utc ? "Coordinated Universal Time" : zoneId);
                    }
                    else if (zone == TimeZoneInfo.Utc)
                    {
                        output.Append("UTC");
                    }
                    else
                    {
                        Offset(output, local.Offset, colon: true, utcAsZ: false);
                    }
                    break;
                default:
                    // Unsupported letter: Joda rejects unknown pattern letters.
                    return null;
            }
        }
        return output.ToString();
    }

    static void Number(StringBuilder output, int value, int width) =>
        output.Append(value.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0'));

    static void Year(StringBuilder output, int year, int count)
    {
        if (count == 2)
        {
            Number(output, Math.Abs(year) % 100, 2);
        }
        else
        {
            Number(output, year, count);
        }
    }

    static void Offset(StringBuilder output, TimeSpan offset, bool colon, bool utcAsZ)
    {
        if (utcAsZ && offset == TimeSpan.Zero)
        {
            output.Append('Z');
            return;
        }
        output.Append(offset < TimeSpan.Zero ? '-' : '+');
        var abs = offset.Duration();
        Number(output, abs.Hours, 2);
        if (colon)
        {
            output.Append(':');
        }
        Number(output, abs.Minutes, 2);
    }
}
