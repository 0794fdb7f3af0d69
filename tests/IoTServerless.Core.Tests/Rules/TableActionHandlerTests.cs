using System.Text;
using IoTServerless.Core.Rules.Actions;

namespace IoTServerless.Core.Tests.Rules;

/// <summary>How a SELECT output becomes a Table row.</summary>
public sealed class TableActionHandlerTests
{
    [Fact]
    public void ToEntity_mapsJsonTypesToTableTypes()
    {
        var output = Encoding.UTF8.GetBytes("""{"s":"x","i":42,"big":9007199254740993,"d":1.5,"t":true,"f":false,"n":null,"o":{"a":[1,2]},"arr":[1,"b"]}""");
        var entity = TableActionHandler.ToEntity("p", "r", output);
        Assert.Equal("x", entity["s"]);
        Assert.Equal(42L, entity["i"]);
        Assert.Equal(9007199254740993L, entity["big"]);
        Assert.Equal(1.5, entity["d"]);
        Assert.Equal(true, entity["t"]);
        Assert.Equal(false, entity["f"]);
        Assert.False(entity.ContainsKey("n"));
        Assert.Equal("""{"a":[1,2]}""", entity["o"]);
        Assert.Equal("""[1,"b"]""", entity["arr"]);
    }

    [Fact]
    public void ToEntity_nonObjectOutput_isOnePayloadColumn()
    {
        Assert.Equal(12L, TableActionHandler.ToEntity("p", "r", "12"u8.ToArray())["payload"]);
        var binary = new byte[] { 0xff, 0x00, 0x01 };
        Assert.Equal(binary, TableActionHandler.ToEntity("p", "r", binary)["payload"]);
    }

    [Theory]
    [InlineData("temperature", "temperature")]
    [InlineData("soil-moisture", "soil_moisture")]
    [InlineData("2nd", "_2nd")]
    [InlineData("PartitionKey", "PartitionKey_")]
    [InlineData("timestamp", "timestamp_")]
    [InlineData("a.b c", "a_b_c")]
    public void ColumnName_makesValidPropertyNames(string field, string column)
        => Assert.Equal(column, TableActionHandler.ColumnName(field));
}
