using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>The builder's bookkeeping: names, scopes, shared initializers and constants, early errors.</summary>
public sealed class OnnxGraphBuilderTests
{
    [Fact]
    public void The_same_initializer_twice_is_one_initializer_and_conflicting_content_is_an_error()
    {
        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder();
        var weight = randn(3, 2);
        Assert.Equal("proj.weight", g.Initializer("proj.weight", weight));
        Assert.Equal("proj.weight", g.Initializer("proj.weight", weight.clone()));
        var e = Assert.Throws<InvalidOperationException>(() => g.Initializer("proj.weight", weight + 1));
        Assert.Contains("'proj.weight'", e.Message);
        Assert.Throws<ArgumentException>(() => g.Initializer("double", zeros(2, dtype: ScalarType.Float64)));
        g.Output(g.Identity("proj.weight"), "y", OnnxElementType.Float, 3, 2);
        Assert.Single(g.ToModel().Initializers);
    }

    [Fact]
    public void Node_outputs_get_unique_names_under_nested_scopes_and_equal_constants_are_shared()
    {
        var g = new OnnxGraphBuilder();
        var x = g.Input("x", OnnxElementType.Float, 2);
        string a, b, c;
        using (g.Scope("blocks.0"))
        using (g.Scope("attn"))
        {
            a = g.Mul(x, g.Scalar(2f));
            b = g.Mul(a, g.Scalar(2f));
        }
        c = g.Add(b, g.Scalar(3f));
        Assert.StartsWith("blocks.0/attn/Mul_", a);
        Assert.NotEqual(a, b);
        Assert.StartsWith("Add_", c);
        g.Output(c, "y", OnnxElementType.Float, 2);
        var model = g.ToModel();
        Assert.Equal(2, model.Initializers.Count);    // 2f once, 3f once
        Assert.Equal(model.Nodes.Count, model.Nodes.Select(n => n.Name).Distinct().Count());
        using var y = OnnxSession.Run(g.ToBytes(), ("x", tensor(new[] { 1f, 2f })))["y"];
        Assert.Equal([7f, 11f], y.data<float>().ToArray());    // x * 2 * 2 + 3
    }

    [Fact]
    public void Unknown_inputs_duplicate_names_and_missing_outputs_fail_early()
    {
        var g = new OnnxGraphBuilder();
        var x = g.Input("x", OnnxElementType.Float, 2);
        Assert.Contains("'nope'", Assert.Throws<ArgumentException>(() => g.Add(x, "nope")).Message);
        Assert.Throws<InvalidOperationException>(() => g.Input("x", OnnxElementType.Float, 2));
        Assert.Throws<InvalidOperationException>(() => g.ToModel());
        g.Output(g.Neg(x), "y", OnnxElementType.Float, 2);
        Assert.Throws<ArgumentException>(() => g.Output(x, "y", OnnxElementType.Float, 2));
        var outer = g.Scope("outer");
        g.Scope("inner");
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
    }
}
