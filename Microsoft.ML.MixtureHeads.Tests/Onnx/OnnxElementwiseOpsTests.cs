using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Elementwise op helpers, run in ONNX Runtime, against the same TorchSharp computation.</summary>
public sealed class OnnxElementwiseOpsTests
{
    [Fact]
    public void Binary_arithmetic_with_broadcasting_matches_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var a = randn(3, 5);
        var b = rand(5) + 0.5f;
        var check = new OnnxParity();
        var g = check.Graph;
        string ia = check.Input("a", a), ib = check.Input("b", b);
        check.Expect("add", g.Add(ia, ib), a + b);
        check.Expect("sub", g.Sub(ia, ib), a - b);
        check.Expect("mul", g.Mul(ia, ib), a * b);
        check.Expect("div", g.Div(ia, ib), a / b);
        check.Expect("pow", g.Pow(ib, ia), b.pow(a));
        check.Expect("max", g.Max(ia, ib, g.Scalar(0.9f)), maximum(maximum(a, b), tensor(0.9f)));
        check.Expect("min", g.Min(ia, ib), minimum(a, b));
        check.Check();
    }

    [Fact]
    public void Integer_mod_matches_torch_remainder()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new long[] { 0, 1, 5, 6, 7, 17, 23, 100 });
        var check = new OnnxParity();
        string ia = check.Input("a", a);
        check.Expect("mod", check.Graph.Mod(ia, check.Graph.Vector(6)), a.remainder(6));
        check.Check();
    }

    [Fact]
    public void Unary_math_matches_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var x = randn(4, 6) * 2;
        var positive = rand(4, 6) + 0.1f;
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), ip = check.Input("p", positive);
        check.Expect("sqrt", g.Sqrt(ip), positive.sqrt());
        check.Expect("reciprocal", g.Reciprocal(ip), positive.reciprocal());
        check.Expect("log", g.Log(ip), positive.log());
        check.Expect("neg", g.Neg(ix), -x);
        check.Expect("abs", g.Abs(ix), x.abs());
        check.Expect("exp", g.Exp(ix), x.exp());
        check.Expect("sin", g.Sin(ix), x.sin());
        check.Expect("cos", g.Cos(ix), x.cos());
        check.Expect("erf", g.Erf(ix), x.erf());
        check.Expect("tanh", g.Tanh(ix), x.tanh());
        check.Expect("sigmoid", g.Sigmoid(ix), x.sigmoid());
        check.Expect("relu", g.Relu(ix), x.relu());
        check.Expect("floor", g.Floor(ix), x.floor());
        check.Expect("ceil", g.Ceil(ix), x.ceil());
        check.Expect("identity", g.Identity(ix), x);
        check.Check();
    }

    [Fact]
    public void Round_is_half_to_even_like_torch()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { -2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f, 0.49999997f, 2.5000002f, -7.25f });
        var halfToEven = tensor(new[] { -2f, -2f, -0f, 0f, 2f, 2f, 4f, 0f, 3f, -7f });
        Assert.True(x.round().eq(halfToEven).all().item<bool>(), "torch.round is half to even");
        var check = new OnnxParity();
        check.Expect("round", check.Graph.Round(check.Input("x", x)), halfToEven);
        check.Check();
    }

    [Fact]
    public void Clip_cast_and_where_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(5, 4) * 3;
        var condition = randn(5, 4) > 0;
        var other = randn(4);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), ic = check.Input("c", condition), io = check.Input("o", other);
        check.Expect("clip", g.Clip(ix, -0.5f, 0.7f), x.clamp(-0.5, 0.7));
        check.Expect("clip_min", g.Clip(ix, g.Scalar(0.25f), null), x.clamp_min(0.25));
        check.Expect("clip_max", g.Clip(ix, null, g.Scalar(-0.25f)), x.clamp_max(-0.25));
        check.Expect("to_int64", g.Cast(ix, OnnxElementType.Int64), x.to_type(ScalarType.Int64));
        check.Expect("bool_to_float", g.Cast(ic, OnnxElementType.Float), condition.to_type(ScalarType.Float32));
        check.Expect("where", g.Where(ic, ix, io), where(condition, x, other));
        check.Check();
    }

    [Fact]
    public void Comparisons_and_logic_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var a = (randn(6, 5) * 2).round();   // small integers in float: ties occur
        var b = (randn(5) * 2).round();
        var ids = randint(0, 3, [6, 5]);
        var p = rand(6, 5) > 0.5;
        var q = rand(6, 5) > 0.5;
        var check = new OnnxParity();
        var g = check.Graph;
        string ia = check.Input("a", a), ib = check.Input("b", b), iid = check.Input("ids", ids);
        string ip = check.Input("p", p), iq = check.Input("q", q);
        check.Expect("equal_float", g.Equal(ia, ib), a.eq(b));
        check.Expect("equal_int64", g.Equal(iid, g.Scalar(1L)), ids.eq(1));
        check.Expect("less", g.Less(ia, ib), a.lt(b));
        check.Expect("less_or_equal", g.LessOrEqual(ia, ib), a.le(b));
        check.Expect("greater", g.Greater(ia, ib), a.gt(b));
        check.Expect("greater_or_equal", g.GreaterOrEqual(ia, ib), a.ge(b));
        check.Expect("not", g.Not(ip), p.logical_not());
        check.Expect("and", g.And(ip, iq), p.logical_and(q));
        check.Expect("or", g.Or(ip, iq), p.logical_or(q));
        check.Check();
    }
}
