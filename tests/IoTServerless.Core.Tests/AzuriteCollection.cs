using IoTServerless.Testing;

namespace IoTServerless.Core.Tests;

/// <summary>One real Azurite shared by the storage tests; they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "azurite";
}
