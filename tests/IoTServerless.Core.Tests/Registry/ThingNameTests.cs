using IoTServerless.Core.Registry;

namespace IoTServerless.Core.Tests.Registry;

public sealed class ThingNameTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("pump-1")]
    [InlineData("Farm_01:Pump-07")]
    [InlineData("0123456789")]
    [InlineData("-")]
    [InlineData(":")]
    [InlineData("_")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_-")]
    public void IsValid_contractName_isTrue(string name)
        => Assert.True(ThingName.IsValid(name));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("pump 1")]
    [InlineData("pump.1")]
    [InlineData("pump/1")]
    [InlineData("pump#1")]
    [InlineData("pump+1")]
    [InlineData("$pump")]
    [InlineData("pümp")]
    [InlineData("pump\n")]
    [InlineData("pump\0")]
    [InlineData("\npump")]
    [InlineData("pump\u0660")] // Arabic-Indic digit zero: a Unicode digit, not [0-9].
    public void IsValid_otherName_isFalse(string? name)
        => Assert.False(ThingName.IsValid(name));

    [Fact]
    public void IsValid_length_isAtMost128()
    {
        Assert.True(ThingName.IsValid(new string('a', 128)));
        Assert.False(ThingName.IsValid(new string('a', 129)));
    }
}
