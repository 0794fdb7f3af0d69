using System.Text.Json;

namespace IoTServerless.Core.Registry;

/// <summary>
/// Parses the registry's request bodies (AWS IoT's JSON shapes). Every error names the field;
/// unknown fields are ignored. An empty body is an empty object.
/// </summary>
public static class RegistryJson
{
    /// <summary><c>{"thingTypeName"?, "attributePayload":{"attributes":{…}}}</c>.</summary>
    public static CreateThingRequest ParseCreateThing(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        var root = doc.RootElement;
        var (attributes, _) = AttributePayloadOf(root, "attributePayload", "attributePayload");
        return new CreateThingRequest
        {
            ThingTypeName = OptionalString(root, "thingTypeName", "thingTypeName"),
            Attributes = attributes ?? new Dictionary<string, string>(),
        };
    }

    /// <summary><c>{"thingTypeName"?, "removeThingType"?, "attributePayload"?:{"attributes":{…},"merge"?}, "expectedVersion"?}</c>.</summary>
    public static UpdateThingRequest ParseUpdateThing(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        var root = doc.RootElement;
        var (attributes, merge) = AttributePayloadOf(root, "attributePayload", "attributePayload");
        return new UpdateThingRequest
        {
            ThingTypeName = OptionalString(root, "thingTypeName", "thingTypeName"),
            RemoveThingType = OptionalBool(root, "removeThingType", "removeThingType") ?? false,
            Attributes = attributes,
            Merge = merge,
            ExpectedVersion = ExpectedVersionOf(root),
        };
    }

    /// <summary><c>{"thingGroupProperties":{"thingGroupDescription"?, "attributePayload"?:{"attributes":{…},"merge"?}}, "expectedVersion"?}</c>.</summary>
    public static UpdateThingGroupRequest ParseUpdateThingGroup(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        var root = doc.RootElement;
        var properties = Property(root, "thingGroupProperties") ?? throw RegistryException.Invalid("thingGroupProperties is required.");
        RequireObject(properties, "thingGroupProperties");
        var (attributes, merge) = AttributePayloadOf(properties, "attributePayload", "thingGroupProperties.attributePayload");
        return new UpdateThingGroupRequest
        {
            ThingGroupDescription = OptionalString(properties, "thingGroupDescription", "thingGroupProperties.thingGroupDescription"),
            Attributes = attributes,
            Merge = merge,
            ExpectedVersion = ExpectedVersionOf(root),
        };
    }

    static long? ExpectedVersionOf(JsonElement root)
        => Property(root, "expectedVersion") is not { } v
            ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0
                ? n
                : throw RegistryException.Invalid("expectedVersion must be a non-negative integer.");

    /// <summary><c>{"thingTypeProperties"?:{"thingTypeDescription"?, "searchableAttributes"?:[…]}}</c>.</summary>
    public static CreateThingTypeRequest ParseCreateThingType(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        if (Property(doc.RootElement, "thingTypeProperties") is not { } properties)
        {
            return new CreateThingTypeRequest();
        }
        RequireObject(properties, "thingTypeProperties");
        List<string> searchable = [];
        if (Property(properties, "searchableAttributes") is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw RegistryException.Invalid("thingTypeProperties.searchableAttributes must be an array of strings.");
            }
            foreach (var item in list.EnumerateArray())
            {
                searchable.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw RegistryException.Invalid("thingTypeProperties.searchableAttributes must be an array of strings."));
            }
        }
        return new CreateThingTypeRequest
        {
            ThingTypeDescription = OptionalString(properties, "thingTypeDescription", "thingTypeProperties.thingTypeDescription"),
            SearchableAttributes = searchable,
        };
    }

    /// <summary><c>{"undoDeprecate"?: bool}</c>.</summary>
    public static bool ParseDeprecateThingType(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        return OptionalBool(doc.RootElement, "undoDeprecate", "undoDeprecate") ?? false;
    }

    /// <summary><c>{"parentGroupName"?, "thingGroupProperties"?:{"thingGroupDescription"?, "attributePayload"?:{"attributes":{…}}}}</c>.</summary>
    public static CreateThingGroupRequest ParseCreateThingGroup(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        var root = doc.RootElement;
        string? description = null;
        IReadOnlyDictionary<string, string>? attributes = null;
        if (Property(root, "thingGroupProperties") is { } properties)
        {
            RequireObject(properties, "thingGroupProperties");
            description = OptionalString(properties, "thingGroupDescription", "thingGroupProperties.thingGroupDescription");
            (attributes, _) = AttributePayloadOf(properties, "attributePayload", "thingGroupProperties.attributePayload");
        }
        return new CreateThingGroupRequest
        {
            ParentGroupName = OptionalString(root, "parentGroupName", "parentGroupName"),
            ThingGroupDescription = description,
            Attributes = attributes ?? new Dictionary<string, string>(),
        };
    }

    /// <summary><c>{"thingGroupName", "thingName"}</c> (AddThingToThingGroup, RemoveThingFromThingGroup).</summary>
    public static (string ThingGroupName, string ThingName) ParseGroupMembership(ReadOnlySpan<byte> body)
    {
        using var doc = Parse(body);
        var group = OptionalString(doc.RootElement, "thingGroupName", "thingGroupName") ?? throw RegistryException.Invalid("thingGroupName is required.");
        var thing = OptionalString(doc.RootElement, "thingName", "thingName") ?? throw RegistryException.Invalid("thingName is required.");
        return (group, thing);
    }

    static JsonDocument Parse(ReadOnlySpan<byte> body)
    {
        JsonDocument doc;
        try
        {
            doc = body.IsEmpty || body.Trim(" \t\r\n"u8).IsEmpty ? JsonDocument.Parse("{}") : JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw RegistryException.Invalid($"The body is not valid JSON: {ex.Message}");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw RegistryException.Invalid("The body must be a JSON object.");
        }
        return doc;
    }

    /// <summary>A property's value; null when absent or JSON null.</summary>
    static JsonElement? Property(JsonElement obj, string name)
        => obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    static void RequireObject(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid($"{path} must be an object.");
        }
    }

    static string? OptionalString(JsonElement obj, string name, string path)
        => Property(obj, name) is not { } value ? null
            : value.ValueKind == JsonValueKind.String ? value.GetString() : throw RegistryException.Invalid($"{path} must be a string.");

    static bool? OptionalBool(JsonElement obj, string name, string path)
        => Property(obj, name) is not { } value ? null
            : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw RegistryException.Invalid($"{path} must be true or false.");

    /// <summary>An <c>attributePayload</c> object: its attributes (null when absent) and <c>merge</c>.</summary>
    static (IReadOnlyDictionary<string, string>? Attributes, bool Merge) AttributePayloadOf(JsonElement obj, string name, string path)
    {
        if (Property(obj, name) is not { } payload)
        {
            return (null, false);
        }
        RequireObject(payload, path);
        var merge = OptionalBool(payload, "merge", path + ".merge") ?? false;
        if (Property(payload, "attributes") is not { } attributes)
        {
            return (new Dictionary<string, string>(), merge);
        }
        RequireObject(attributes, path + ".attributes");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in attributes.EnumerateObject())
        {
            if (attribute.Value.ValueKind != JsonValueKind.String)
            {
                throw RegistryException.Invalid($"{path}.attributes.{attribute.Name} must be a string.");
            }
            if (!result.TryAdd(attribute.Name, attribute.Value.GetString()!))
            {
                throw RegistryException.Invalid($"{path}.attributes has '{attribute.Name}' twice.");
            }
        }
        return (result, merge);
    }
}
