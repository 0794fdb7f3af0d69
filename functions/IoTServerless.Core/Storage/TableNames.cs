namespace IoTServerless.Core.Storage;

public static class TableNames
{
    public const string Things = "Things";
    public const string ProcessedEvents = "ProcessedEvents";
    public const string Shadows = "Shadows";
    public const string Rules = "Rules";
}
