using System.Text;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Actions;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace IoTServerless.Core.Tests.Rules.Actions;

public sealed class FunctionActionHandlerTests : IAsyncLifetime
{
    TestWebhook _webhook = null!;

    public async Task InitializeAsync() => _webhook = await TestWebhook.StartAsync();

    public async Task DisposeAsync() => await _webhook.DisposeAsync();

    RuleAction Action(string? keySetting) => new() { Function = new FunctionAction { Url = _webhook.Url("/api/ingest").ToString(), KeySetting = keySetting } };

    [Fact]
    public async Task ExecuteAsync_sends_function_key_from_configuration_as_x_functions_key()
    {
        using var host = new ActionTestHost(new Dictionary<string, string?> { ["IngestFunctionKey"] = "k3y-from-app-settings" });

        var results = await host.Handler("function").ExecuteAsync([ActionTestHost.Invocation(Action("IngestFunctionKey"))], CancellationToken.None);

        Assert.Equal([null], results);
        var request = Assert.Single(_webhook.Requests);
        Assert.Equal("k3y-from-app-settings", request.Headers["x-functions-key"]);
        Assert.Equal("msg-1", request.Headers["x-iot-message-id"]);
        Assert.Equal("soil_rule", request.Headers["x-iot-rule"]);
        Assert.Equal("""{"moisture":31}""", Encoding.UTF8.GetString(request.Body));
        Assert.False(request.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task ExecuteAsync_missing_key_setting_fails_clearly_without_calling_the_function()
    {
        using var host = new ActionTestHost();

        var results = await host.Handler("function").ExecuteAsync([ActionTestHost.Invocation(Action("Missing:FunctionKey"))], CancellationToken.None);

        var error = Assert.Single(results);
        Assert.Equal("keySetting: the app setting 'Missing:FunctionKey' holding the function key is not configured", error);
        Assert.Empty(_webhook.Requests);
    }

    [Fact]
    public async Task ExecuteAsync_without_key_setting_sends_no_key()
    {
        using var host = new ActionTestHost();

        var results = await host.Handler("function").ExecuteAsync([ActionTestHost.Invocation(Action(null))], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.False(Assert.Single(_webhook.Requests).Headers.ContainsKey("x-functions-key"));
    }

    [Fact]
    public async Task ExecuteAsync_function_returning_500_is_retried_then_reported()
    {
        _webhook.Always = 500;
        using var host = new ActionTestHost(new Dictionary<string, string?> { ["IngestFunctionKey"] = "k" }, maxAttempts: 2);

        var results = await host.Handler("function").ExecuteAsync([ActionTestHost.Invocation(Action("IngestFunctionKey"))], CancellationToken.None);

        Assert.Contains("500", Assert.Single(results));
        Assert.Equal(2, _webhook.Requests.Count);
    }

    [Fact]
    public async Task ExecuteAsync_with_auth_audience_and_no_key_sends_managed_identity_bearer_token()
    {
        var tokens = new Mock<IRuleActionTokenProvider>();
        tokens.Setup(t => t.GetTokenAsync("api://ingest-app/.default", It.IsAny<CancellationToken>())).ReturnsAsync("mi-token");
        using var host = new ActionTestHost(
            new Dictionary<string, string?> { ["Rules:Actions:FunctionAuthAudience"] = "api://ingest-app" },
            services => services.AddSingleton(tokens.Object));

        var results = await host.Handler("function").ExecuteAsync([ActionTestHost.Invocation(Action(null))], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.Equal("Bearer mi-token", Assert.Single(_webhook.Requests).Headers["Authorization"]);
    }

    [Theory]
    [InlineData("https://ingest.azurewebsites.net/api/ingest", "IngestFunctionKey")]
    [InlineData("https://ingest.azurewebsites.net/api/ingest", "Functions:Ingest:Key")]
    [InlineData("http://localhost:7072/api/ingest", null)]
    public void Validate_accepts_endpoint_and_setting_name(string url, string? keySetting)
    {
        using var host = new ActionTestHost();

        Assert.Empty(host.Handler("function").Validate(new RuleAction { Function = new FunctionAction { Url = url, KeySetting = keySetting } }));
    }

    [Theory]
    [InlineData("http://ingest.azurewebsites.net/api/ingest", null, "url:")]
    [InlineData("https://ingest.azurewebsites.net/api/${topic(1)}", null, "url:")]
    [InlineData("https://ingest.azurewebsites.net/api/ingest", "aGVsbG8gd29ybGQ=", "keySetting:")]
    [InlineData("https://ingest.azurewebsites.net/api/ingest", "my key", "keySetting:")]
    [InlineData("https://ingest.azurewebsites.net/api/ingest", "", "keySetting:")]
    public void Validate_rejects_bad_url_or_setting_name(string url, string? keySetting, string field)
    {
        using var host = new ActionTestHost();

        var problem = Assert.Single(host.Handler("function").Validate(new RuleAction { Function = new FunctionAction { Url = url, KeySetting = keySetting } }));

        Assert.StartsWith(field, problem);
    }
}
