using System.IO.Pipelines;

namespace IoTServerless.Broker.Mqtt;

/// <summary>A connection's transport as a reader and a writer: what each connection middleware hands on.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}
