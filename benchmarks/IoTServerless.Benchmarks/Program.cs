using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(IoTServerless.Benchmarks.Broker.RetainedMessagesBenchmarks).Assembly).Run(args);
