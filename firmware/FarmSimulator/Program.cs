using FarmSimulator.Cli;

return await CommandDispatcher.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);
