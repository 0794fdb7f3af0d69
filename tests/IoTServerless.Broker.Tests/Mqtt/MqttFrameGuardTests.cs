using System.IO.Pipelines;
using IoTServerless.Broker.Mqtt;
using IoTServerless.Broker.Sinks;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// The frame guard, the first middleware on every MQTT connection, on a connection whose transport is
/// a pipe the test controls: what it does when the read under it fails, is canceled, or brings a
/// packet it refuses.
/// </summary>
public sealed class MqttFrameGuardTests
{
    [Fact]
    public async Task ReadAsync_whenTheTransportFails_abortsTheConnectionAndRethrows()
    {
        var connection = new DefaultConnectionContext("failing", new Duplex(new FailingReader(new IOException("Connection reset by peer")), new Pipe().Writer), new Duplex(new Pipe().Reader, new Pipe().Writer));

        var thrown = await Assert.ThrowsAsync<IOException>(() => RunGuardedAsync(connection, input => input.ReadAsync().AsTask()));

        Assert.Equal("Connection reset by peer", thrown.Message);
        Assert.True(await ClosedAsync(connection), "a failed read must abort the connection, so its pending writes fail too");
    }

    [Fact]
    public async Task ReadAsync_whenCanceled_leavesTheConnectionOpen()
    {
        var connection = new DefaultConnectionContext("canceled", new Duplex(new FailingReader(new OperationCanceledException()), new Pipe().Writer), new Duplex(new Pipe().Reader, new Pipe().Writer));

        await Assert.ThrowsAsync<OperationCanceledException>(() => RunGuardedAsync(connection, input => input.ReadAsync().AsTask()));

        Assert.False(await ClosedAsync(connection), "a canceled read is MQTTnet's own doing, not the peer's");
    }

    [Fact]
    public async Task ReadAsync_ofAFirstPacketOtherThanConnect_throwsWithoutAbortingTheTransport()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0x30, 0x02, 0x00, 0x00 }); // PUBLISH before CONNECT
        var connection = new DefaultConnectionContext("no-connect", new Duplex(pipe.Reader, new Pipe().Writer), new Duplex(new Pipe().Reader, new Pipe().Writer));

        await Assert.ThrowsAsync<InvalidDataException>(() => RunGuardedAsync(connection, input => input.ReadAsync().AsTask()));

        // The protocol error goes to MQTTnet, which closes the connection as for any bad packet.
        Assert.False(await ClosedAsync(connection));
    }

    static async Task RunGuardedAsync(ConnectionContext connection, Func<PipeReader, Task> read)
    {
        var builder = new ConnectionBuilder(new ServiceCollection().BuildServiceProvider());
        builder.UseMqttFrameGuard(maxPacketBytes: 128 * 1024, new BrokerTraffic());
        builder.Run(context => read(context.Transport.Input));
        await builder.Build()(connection);
    }

    // DefaultConnectionContext signals an abort on the thread pool.
    static async Task<bool> ClosedAsync(ConnectionContext connection)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), connection.ConnectionClosed);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    sealed class FailingReader(Exception failure) : PipeReader
    {
        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            await Task.Yield(); // fails once the read has gone asynchronous, as a socket's does
            throw failure;
        }

        public override bool TryRead(out ReadResult result)
        {
            result = default;
            return false;
        }

        public override void AdvanceTo(SequencePosition consumed)
        {
        }

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
        }

        public override void CancelPendingRead()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }
}
