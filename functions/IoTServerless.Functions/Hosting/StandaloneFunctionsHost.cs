using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace IoTServerless.Functions.Hosting;

/// <summary>
/// Serves the function app without the Functions host: every <c>[HttpTrigger]</c> route and every
/// <c>[TimerTrigger]</c> schedule is read from the attributes themselves, so no list of routes is kept twice.
/// </summary>
public static class StandaloneFunctionsHost
{
    /// <summary>The default address, the same as <c>func start</c>'s.</summary>
    public const string DefaultUrl = "http://127.0.0.1:7071";

    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        builder.AddIoTServerlessFunctions();
        builder.AddStandaloneFunctions(typeof(StandaloneFunctionsHost).Assembly);
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapStandaloneFunctions();
        return app;
    }

    /// <summary>Registers the hosting services and one timer service per timer function of <paramref name="assembly"/>.</summary>
    public static IHostApplicationBuilder AddStandaloneFunctions(this IHostApplicationBuilder builder, Assembly assembly)
    {
        var functions = FunctionCatalog.Discover(assembly);
        builder.Services.AddSingleton(functions);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<StandaloneHostingOptions>().Bind(builder.Configuration.GetSection(StandaloneHostingOptions.SectionName));
        builder.Services.AddMvcCore();
        builder.Services.AddProblemDetails();
        foreach (var function in functions.Where(f => f.Timer is not null))
        {
            builder.Services.AddSingleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<StandaloneTimerService>(sp, function, sp));
        }
        return builder;
    }

    /// <summary>Maps each HTTP function at <c>/{routePrefix}/{route}</c> with the host's key check.</summary>
    public static WebApplication MapStandaloneFunctions(this WebApplication app)
    {
        app.UseExceptionHandler();
        var prefix = RoutePrefix(Path.Combine(AppContext.BaseDirectory, "host.json"));
        var key = app.Services.GetRequiredService<IOptions<StandaloneHostingOptions>>();
        foreach (var function in app.Services.GetRequiredService<IReadOnlyList<FunctionDescriptor>>().Where(f => f.Http is not null))
        {
            var invoker = new FunctionInvoker(function);
            var http = function.Http!;
            var route = RouteOf(prefix, function);
            RequestDelegate handler = async context =>
            {
                if (!FunctionKeyAuthorization.IsAuthorized(context.Request, http.AuthLevel, key.Value.FunctionKey))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    return;
                }
                var result = await invoker.InvokeAsync(context.RequestServices, new InvocationContext(context, null, context.RequestAborted));
                if (result is IActionResult actionResult)
                {
                    await actionResult.ExecuteResultAsync(new ActionContext(context, context.GetRouteData(), new ActionDescriptor()));
                }
                else if (!context.Response.HasStarted)
                {
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                }
            };
            var endpoint = http.Methods is { Length: > 0 } methods
                ? app.MapMethods(route, methods.Select(m => m.ToUpperInvariant()), handler)
                : app.Map(route, handler);
            endpoint.WithName(function.Name);
        }
        return app;
    }

    /// <summary>The route a function is served at: host.json's routePrefix, then the trigger's route (or the function name).</summary>
    public static string RouteOf(string prefix, FunctionDescriptor function)
    {
        var route = function.Http!.Route ?? function.Name;
        return "/" + string.Join('/', new[] { prefix.Trim('/'), route.Trim('/') }.Where(s => s.Length > 0));
    }

    /// <summary>host.json's <c>extensions.http.routePrefix</c>; "api" when absent, as in the host.</summary>
    public static string RoutePrefix(string hostJsonPath)
    {
        if (!File.Exists(hostJsonPath))
        {
            return "api";
        }
        var json = JsonNode.Parse(File.ReadAllText(hostJsonPath));
        return json?["extensions"]?["http"]?["routePrefix"]?.GetValue<string>() ?? "api";
    }
}
