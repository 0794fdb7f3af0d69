using IoTServerless.Core.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Tests.Storage;

static class TestTables
{
    public static TableClientProvider Provider(AzuriteFixture azurite)
        => new(Options.Create(new TableStorageOptions { ConnectionString = azurite.ConnectionString }));
}
