using Azure.Storage.Blobs;
using IoTServerless.Core.Rules;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Rules.Actions;

[Collection(AzuriteCollection.Name)]
public sealed class BlobActionHandlerTests(AzuriteFixture azurite) : IDisposable
{
    readonly ActionTestHost _host = new(new Dictionary<string, string?> { ["Storage:ConnectionString"] = azurite.ConnectionString });

    public void Dispose() => _host.Dispose();

    static string NewContainerName() => $"rules-{Guid.NewGuid():N}"[..30];

    static RuleAction Action(string container, string blobName = "readings/pump-1.json") => new() { Blob = new BlobAction { ContainerName = container, BlobName = blobName } };

    BlobContainerClient Container(string name) => new(azurite.ConnectionString, name);

    [Fact]
    public async Task ExecuteAsync_uploads_output_to_container_created_on_first_use()
    {
        var container = NewContainerName();

        var results = await _host.Handler("blob").ExecuteAsync([ActionTestHost.Invocation(Action(container), output: """{"moisture":31}""")], CancellationToken.None);

        Assert.Equal([null], results);
        var blob = Container(container).GetBlobClient("readings/pump-1.json");
        var content = (await blob.DownloadContentAsync()).Value;
        Assert.Equal("""{"moisture":31}""", content.Content.ToString());
        Assert.Equal("application/json", content.Details.ContentType);
        Assert.Equal("msg-1", content.Details.Metadata["iotmessageid"]);
        Assert.Equal("soil_rule", content.Details.Metadata["iotrule"]);
    }

    [Fact]
    public async Task ExecuteAsync_redelivery_overwrites_the_same_blob()
    {
        var container = NewContainerName();
        var handler = _host.Handler("blob");
        var invocation = ActionTestHost.Invocation(Action(container), output: """{"moisture":31}""");

        var first = await handler.ExecuteAsync([invocation], CancellationToken.None);
        var second = await handler.ExecuteAsync([invocation with { Output = """{"moisture":31,"again":true}"""u8.ToArray() }], CancellationToken.None);

        Assert.Equal([null], first);
        Assert.Equal([null], second);
        var blobs = new List<string>();
        await foreach (var item in Container(container).GetBlobsAsync())
        {
            blobs.Add(item.Name);
        }
        Assert.Equal(["readings/pump-1.json"], blobs);
        var content = (await Container(container).GetBlobClient("readings/pump-1.json").DownloadContentAsync()).Value.Content.ToString();
        Assert.Equal("""{"moisture":31,"again":true}""", content);
    }

    [Fact]
    public async Task ExecuteAsync_container_deleted_after_first_use_is_created_again()
    {
        var container = NewContainerName();
        var handler = _host.Handler("blob");
        await handler.ExecuteAsync([ActionTestHost.Invocation(Action(container))], CancellationToken.None);
        await Container(container).DeleteAsync();

        var results = await handler.ExecuteAsync([ActionTestHost.Invocation(Action(container, "after-delete.json"))], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.True((await Container(container).GetBlobClient("after-delete.json").ExistsAsync()).Value);
    }

    [Fact]
    public async Task ExecuteAsync_unreachable_storage_is_retried_then_reported()
    {
        var down = azurite.ConnectionString.Replace($":{azurite.BlobPort}/", $":{FreeTcpPort.Next()}/", StringComparison.Ordinal);
        using var host = new ActionTestHost(new Dictionary<string, string?> { ["Storage:ConnectionString"] = down }, maxAttempts: 2);

        var results = await host.Handler("blob").ExecuteAsync([ActionTestHost.Invocation(Action(NewContainerName()))], CancellationToken.None);

        Assert.Contains("2 attempts", Assert.Single(results));
    }

    [Theory]
    [InlineData("Readings")]
    [InlineData("re")]
    [InlineData("readings_2026")]
    [InlineData("readings--2026")]
    [InlineData("$root")]
    public void Validate_rejects_bad_container_name(string name)
    {
        var problem = Assert.Single(_host.Handler("blob").Validate(Action(name)));

        Assert.StartsWith("containerName:", problem);
    }

    [Theory]
    [InlineData("")]
    [InlineData("readings/")]
    [InlineData("readings.")]
    public void Validate_rejects_bad_blob_name(string blobName)
    {
        var problem = Assert.Single(_host.Handler("blob").Validate(Action("readings", blobName)));

        Assert.StartsWith("blobName:", problem);
    }
}
