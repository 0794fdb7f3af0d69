using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Security.Changes;

[Collection(AzuriteCollection.Name)]
public sealed class IdentityChangeFeedTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task ReadAfter_returnsOnlyLaterChanges_inOrder_andAdvancesByPosition()
    {
        var feed = new IdentityChangeFeed(TestTables.Provider(azurite), TimeProvider.System);
        var key = Guid.NewGuid().ToString("N");
        await feed.AppendAsync(IdentityChangeKinds.Certificate, key + "-before", CancellationToken.None);
        var start = feed.Now();
        await Task.Delay(5);
        await feed.AppendAsync(IdentityChangeKinds.Certificate, key + "-1", CancellationToken.None);
        await feed.AppendAsync(IdentityChangeKinds.Policy, key + "-2", CancellationToken.None);

        var changes = (await feed.ReadAfterAsync(start, CancellationToken.None)).Where(c => c.Key.StartsWith(key, StringComparison.Ordinal)).ToList();

        Assert.Equal([key + "-1", key + "-2"], changes.Select(c => c.Key));
        Assert.Equal([IdentityChangeKinds.Certificate, IdentityChangeKinds.Policy], changes.Select(c => c.Kind));
        var after = (await feed.ReadAfterAsync(changes[^1].Position, CancellationToken.None)).Where(c => c.Key.StartsWith(key, StringComparison.Ordinal));
        Assert.Empty(after);
    }
}
