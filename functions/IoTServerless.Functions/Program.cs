using IoTServerless.Functions;
using IoTServerless.Functions.Hosting;
using Microsoft.Azure.Functions.Worker.Builder;

if (HostingMode.IsFunctionsHost(args))
{
    var builder = FunctionsApplication.CreateBuilder(args);
    builder.ConfigureFunctionsWebApplication();
    builder.AddIoTServerlessFunctions();
    builder.Build().Run();
}
else
{
    StandaloneFunctionsHost.Create(args).Run();
}
