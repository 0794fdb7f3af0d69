using System.Text;
using Azure.Storage.Queues;
using IoTServerless.Core.Rules;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Rules.Actions;

[Collection(AzuriteCollection.Name)]
public sealed class QueueActionHandlerTests(AzuriteFixture azurite) : IDisposable
{
    readonly ActionTestHost _host = new(new Dictionary<string, string?> { ["Storage:ConnectionString"] = azurite.ConnectionString });

    public void Dispose() => _host.Dispose();

    static string NewQueueName() => $"rules-{Guid.NewGuid():N}"[..30];

    static RuleAction Action(string queue) => new() { Queue = new QueueAction { QueueName = queue } };

    [Fact]
    public async Task ExecuteAsync_sends_output_to_queue_created_on_first_use()
    {
        var name = NewQueueName();

        var results = await _host.Handler("queue").ExecuteAsync(
            [ActionTestHost.Invocation(Action(name), output: """{"moisture":31}"""), ActionTestHost.Invocation(Action(name), output: """{"moisture":32}""")],
            CancellationToken.None);

        Assert.Equal([null, null], results);
        var reader = new QueueClient(azurite.ConnectionString, name, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        var messages = (await reader.ReceiveMessagesAsync(maxMessages: 10)).Value;
        Assert.Equal(["""{"moisture":31}""", """{"moisture":32}"""], messages.Select(m => m.Body.ToString()).Order());
    }

    [Fact]
    public async Task ExecuteAsync_message_text_is_base64_as_functions_queue_triggers_expect()
    {
        var name = NewQueueName();

        await _host.Handler("queue").ExecuteAsync([ActionTestHost.Invocation(Action(name), output: """{"moisture":31}""")], CancellationToken.None);

        var raw = new QueueClient(azurite.ConnectionString, name);
        var message = Assert.Single((await raw.ReceiveMessagesAsync(maxMessages: 10)).Value);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"moisture":31}""")), message.Body.ToString());
    }

    [Fact]
    public async Task ExecuteAsync_output_larger_than_a_queue_message_fails_clearly()
    {
        var output = $$"""{"blob":"{{new string('x', 50_000)}}"}""";

        var results = await _host.Handler("queue").ExecuteAsync([ActionTestHost.Invocation(Action(NewQueueName()), output: output)], CancellationToken.None);

        Assert.Contains("larger than a queue message", Assert.Single(results));
    }

    [Fact]
    public async Task ExecuteAsync_queue_deleted_after_first_use_is_created_again()
    {
        var name = NewQueueName();
        var handler = _host.Handler("queue");
        await handler.ExecuteAsync([ActionTestHost.Invocation(Action(name))], CancellationToken.None);
        await new QueueClient(azurite.ConnectionString, name).DeleteAsync();

        var results = await handler.ExecuteAsync([ActionTestHost.Invocation(Action(name), output: """{"after":"delete"}""")], CancellationToken.None);

        Assert.Equal([null], results);
        var reader = new QueueClient(azurite.ConnectionString, name, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        Assert.Equal("""{"after":"delete"}""", Assert.Single((await reader.ReceiveMessagesAsync(maxMessages: 10)).Value).Body.ToString());
    }

    [Fact]
    public async Task ExecuteAsync_unreachable_storage_is_retried_then_reported()
    {
        var port = FreeTcpPort.Next();
        var down = azurite.ConnectionString.Replace($":{azurite.QueuePort}/", $":{port}/", StringComparison.Ordinal);
        using var host = new ActionTestHost(new Dictionary<string, string?> { ["Storage:ConnectionString"] = down }, maxAttempts: 2);

        var results = await host.Handler("queue").ExecuteAsync([ActionTestHost.Invocation(Action(NewQueueName()))], CancellationToken.None);

        var error = Assert.Single(results);
        Assert.NotNull(error);
        Assert.Contains("2 attempts", error);
    }

    [Theory]
    [InlineData("Soil-Readings")]
    [InlineData("soil_readings")]
    [InlineData("ab")]
    [InlineData("-soil")]
    [InlineData("soil-")]
    [InlineData("soil--readings")]
    [InlineData("")]
    public void Validate_rejects_bad_queue_name(string name)
    {
        var problem = Assert.Single(_host.Handler("queue").Validate(Action(name)));

        Assert.StartsWith("queueName:", problem);
    }

    [Fact]
    public void Validate_accepts_valid_queue_name()
        => Assert.Empty(_host.Handler("queue").Validate(Action("soil-readings-2")));
}
