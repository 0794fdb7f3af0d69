using IoTServerless.Core.Security.Policies;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Tests.Security.Policies;

[Collection(AzuriteCollection.Name)]
public sealed class PolicyStoreTests(AzuriteFixture azurite)
{
    const string Allow = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}""";
    const string Deny = """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:Connect","Resource":"*"}]}""";

    PolicyStore Store() => new(TestTables.Provider(azurite), Options.Create(new PlatformOptions()), TimeProvider.System, NullLogger<PolicyStore>.Instance);

    static string Name() => "p-" + Guid.NewGuid().ToString("N")[..10];

    static string Cert() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());

    static async Task<string> CodeOfAsync(Func<Task> action) => (await Assert.ThrowsAsync<PolicyException>(action)).Code;

    [Fact]
    public async Task Create_thenGet_returnsVersion1AsDefault()
    {
        var store = Store();
        var name = Name();
        var created = await store.CreatePolicyAsync(name, Allow, default);
        Assert.Equal("1", created.PolicyVersionId);
        Assert.Equal($"arn:aws:iot:local:000000000000:policy/{name}", created.PolicyArn);
        var policy = await store.GetPolicyAsync(name, default);
        Assert.Equal(Allow, policy.PolicyDocument);
        Assert.Equal("1", policy.DefaultVersionId);
        Assert.Equal("ResourceAlreadyExistsException", await CodeOfAsync(() => store.CreatePolicyAsync(name, Allow, default)));
        Assert.Equal("ResourceNotFoundException", await CodeOfAsync(() => store.GetPolicyAsync(Name(), default)));
    }

    [Fact]
    public async Task InvalidNameOrDocument_isRejected_andNothingIsStored()
    {
        var store = Store();
        var name = Name();
        Assert.Equal("InvalidRequestException", await CodeOfAsync(() => store.CreatePolicyAsync("bad name", Allow, default)));
        var malformed = await Assert.ThrowsAsync<PolicyException>(() => store.CreatePolicyAsync(name, """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Fly","Resource":"*"}]}""", default));
        Assert.Equal("MalformedPolicyException", malformed.Code);
        Assert.Contains("Statement[0].Action", malformed.Message, StringComparison.Ordinal);
        Assert.Equal("ResourceNotFoundException", await CodeOfAsync(() => store.GetPolicyAsync(name, default)));

        await store.CreatePolicyAsync(name, Allow, default);
        Assert.Equal("MalformedPolicyException", await CodeOfAsync(() => store.CreatePolicyVersionAsync(name, "{", setAsDefault: true, default)));
        Assert.Single(await store.ListPolicyVersionsAsync(name, default));
        Assert.Equal(Allow, (await store.GetPolicyAsync(name, default)).PolicyDocument);
    }

    [Fact]
    public async Task Versions_atMostFive_defaultSwitching_andDeleteRules()
    {
        var store = Store();
        var name = Name();
        await store.CreatePolicyAsync(name, Allow, default);
        var v2 = await store.CreatePolicyVersionAsync(name, Deny, setAsDefault: false, default);
        Assert.Equal("2", v2.PolicyVersionId);
        Assert.False(v2.IsDefaultVersion);
        Assert.Equal(Allow, (await store.GetPolicyAsync(name, default)).PolicyDocument);
        var v3 = await store.CreatePolicyVersionAsync(name, Deny, setAsDefault: true, default);
        Assert.True(v3.IsDefaultVersion);
        var policy = await store.GetPolicyAsync(name, default);
        Assert.Equal(("3", Deny), (policy.DefaultVersionId, policy.PolicyDocument));
        await store.CreatePolicyVersionAsync(name, Allow, false, default);
        await store.CreatePolicyVersionAsync(name, Allow, false, default);
        Assert.Equal("VersionsLimitExceededException", await CodeOfAsync(() => store.CreatePolicyVersionAsync(name, Allow, false, default)));

        Assert.Equal("DeleteConflictException", await CodeOfAsync(() => store.DeletePolicyVersionAsync(name, "3", default)));
        Assert.Equal("DeleteConflictException", await CodeOfAsync(() => store.DeletePolicyAsync(name, default)));
        await store.SetDefaultPolicyVersionAsync(name, "1", default);
        Assert.Equal(("1", Allow), ((await store.GetPolicyAsync(name, default)).DefaultVersionId, (await store.GetPolicyAsync(name, default)).PolicyDocument));
        Assert.True((await store.GetPolicyVersionAsync(name, "1", default)).IsDefaultVersion);
        Assert.False((await store.GetPolicyVersionAsync(name, "3", default)).IsDefaultVersion);
        Assert.Equal("ResourceNotFoundException", await CodeOfAsync(() => store.SetDefaultPolicyVersionAsync(name, "9", default)));
        Assert.Equal("InvalidRequestException", await CodeOfAsync(() => store.GetPolicyVersionAsync(name, "x", default)));

        foreach (var id in new[] { "2", "3", "4", "5" })
        {
            await store.DeletePolicyVersionAsync(name, id, default);
        }
        Assert.Equal("ResourceNotFoundException", await CodeOfAsync(() => store.GetPolicyVersionAsync(name, "2", default)));
        var v6 = await store.CreatePolicyVersionAsync(name, Deny, false, default);
        Assert.Equal("6", v6.PolicyVersionId);
        Assert.Equal(["1", "6"], (await store.ListPolicyVersionsAsync(name, default)).Select(v => v.PolicyVersionId));
        await store.DeletePolicyVersionAsync(name, "6", default);

        await store.DeletePolicyAsync(name, default);
        Assert.Equal("ResourceNotFoundException", await CodeOfAsync(() => store.GetPolicyAsync(name, default)));
        await store.CreatePolicyAsync(name, Deny, default);
        Assert.Equal("1", (await store.GetPolicyAsync(name, default)).DefaultVersionId);
    }

    [Fact]
    public async Task ConcurrentVersionCreates_neverExceedTheLimit()
    {
        var store = Store();
        var name = Name();
        await store.CreatePolicyAsync(name, Allow, default);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                return (await store.CreatePolicyVersionAsync(name, Deny, true, default)).PolicyVersionId;
            }
            catch (PolicyException ex) when (ex.Code == "VersionsLimitExceededException")
            {
                return null;
            }
        }));
        Assert.Equal(4, results.Count(r => r is not null));
        Assert.Equal(5, (await store.ListPolicyVersionsAsync(name, default)).Count);
    }

    [Fact]
    public async Task Attachments_limitTen_listBothWays_andBlockDelete()
    {
        var store = Store();
        var cert = Cert();
        var names = Enumerable.Range(0, 11).Select(_ => Name()).ToList();
        foreach (var name in names)
        {
            await store.CreatePolicyAsync(name, Allow, default);
        }
        foreach (var name in names.Take(10))
        {
            await store.AttachPolicyAsync(name, $"arn:aws:iot:us-east-1:123456789012:cert/{cert}", default);
        }
        await store.AttachPolicyAsync(names[0], cert, default); // idempotent, and the bare id is the same target
        Assert.Equal("LimitExceededException", await CodeOfAsync(() => store.AttachPolicyAsync(names[10], cert, default)));
        Assert.Empty((await store.ListTargetsForPolicyAsync(names[10], null, 250, default)).Items);

        var attached = await store.ListAttachedPoliciesAsync(cert, default);
        Assert.Equal(names.Take(10), attached.Select(p => p.PolicyName));
        Assert.Equal([$"arn:aws:iot:local:000000000000:cert/{cert}"], (await store.ListTargetsForPolicyAsync(names[0], null, 250, default)).Items);

        Assert.Equal("DeleteConflictException", await CodeOfAsync(() => store.DeletePolicyAsync(names[0], default)));
        await store.DetachPolicyAsync(names[0], cert, default);
        await store.DetachPolicyAsync(names[0], cert, default);
        await store.DeletePolicyAsync(names[0], default);
        await store.AttachPolicyAsync(names[10], cert, default);
        Assert.Equal(10, (await store.ListAttachedPoliciesAsync(cert, default)).Count);

        var documents = await store.GetAttachedDocumentsAsync([cert, "thinggroup/none"], default);
        Assert.Equal(names.Skip(1), documents.Select(d => d.PolicyName));
    }

    [Fact]
    public async Task Attach_thingGroups_targetsPage_andUnknownsAreErrors()
    {
        var store = Store();
        var name = Name();
        await store.CreatePolicyAsync(name, Allow, default);
        var groups = Enumerable.Range(0, 5).Select(i => $"group-{i}-{Guid.NewGuid():N}"[..20]).ToList();
        foreach (var group in groups)
        {
            await store.AttachPolicyAsync(name, group, default);
        }
        Assert.Single(await store.ListAttachedPoliciesAsync($"arn:aws:iot:eu-west-1:1:thinggroup/{groups[0]}", default));
        var targets = new List<string>();
        string? marker = null;
        var pages = 0;
        do
        {
            var page = await store.ListTargetsForPolicyAsync(name, marker, 2, default);
            targets.AddRange(page.Items);
            marker = page.NextMarker;
            pages++;
        }
        while (marker is not null);
        Assert.Equal(3, pages);
        Assert.Equal(groups.Order(StringComparer.Ordinal).Select(g => $"arn:aws:iot:local:000000000000:thinggroup/{g}"), targets);

        Assert.Equal("ResourceNotFoundException", await CodeOfAsync(() => store.AttachPolicyAsync(Name(), groups[0], default)));
        Assert.Equal("InvalidRequestException", await CodeOfAsync(() => store.AttachPolicyAsync(name, "arn:aws:iot:x:y:bucket/z", default)));
        Assert.Equal("InvalidRequestException", await CodeOfAsync(() => store.AttachPolicyAsync(name, "bad group!", default)));
    }

    [Fact]
    public async Task List_pagesWithMarkers_inNameOrder()
    {
        var store = Store();
        var prefix = "list" + Guid.NewGuid().ToString("N")[..8];
        var names = Enumerable.Range(0, 5).Select(i => $"{prefix}-{i}").ToList();
        foreach (var name in names)
        {
            await store.CreatePolicyAsync(name, Allow, default);
        }
        var seen = new List<string>();
        string? marker = null;
        do
        {
            var page = await store.ListPoliciesAsync(marker, 2, default);
            Assert.True(page.Items.Count <= 2);
            seen.AddRange(page.Items.Select(p => p.PolicyName));
            marker = page.NextMarker;
        }
        while (marker is not null);
        Assert.Equal(names, seen.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
    }
}
