namespace Microsoft.ML.MixtureHeads.Onnx;

// Elementwise arithmetic, comparison and logic (numpy broadcasting throughout).
public sealed partial class OnnxGraphBuilder
{
    /// <summary>a + b.</summary>
    public string Add(string a, string b) => Apply("Add", [a, b]);

    /// <summary>a - b.</summary>
    public string Sub(string a, string b) => Apply("Sub", [a, b]);

    /// <summary>a * b.</summary>
    public string Mul(string a, string b) => Apply("Mul", [a, b]);

    /// <summary>a / b.</summary>
    public string Div(string a, string b) => Apply("Div", [a, b]);

    /// <summary>Remainder of a / b, with the sign of b (integer Mod, fmod = 0).</summary>
    public string Mod(string a, string b) => Apply("Mod", [a, b]);

    /// <summary>a ^ b.</summary>
    public string Pow(string a, string b) => Apply("Pow", [a, b]);

    /// <summary>Elementwise maximum of all inputs.</summary>
    public string Max(params string[] inputs) => Apply("Max", inputs);

    /// <summary>Elementwise minimum of all inputs.</summary>
    public string Min(params string[] inputs) => Apply("Min", inputs);

    /// <summary>sqrt(x).</summary>
    public string Sqrt(string x) => Apply("Sqrt", [x]);

    /// <summary>1 / x.</summary>
    public string Reciprocal(string x) => Apply("Reciprocal", [x]);

    /// <summary>-x.</summary>
    public string Neg(string x) => Apply("Neg", [x]);

    /// <summary>|x|.</summary>
    public string Abs(string x) => Apply("Abs", [x]);

    /// <summary>e^x.</summary>
    public string Exp(string x) => Apply("Exp", [x]);

    /// <summary>ln x.</summary>
    public string Log(string x) => Apply("Log", [x]);

    /// <summary>sin x.</summary>
    public string Sin(string x) => Apply("Sin", [x]);

    /// <summary>cos x.</summary>
    public string Cos(string x) => Apply("Cos", [x]);

    /// <summary>The Gauss error function.</summary>
    public string Erf(string x) => Apply("Erf", [x]);

    /// <summary>tanh x.</summary>
    public string Tanh(string x) => Apply("Tanh", [x]);

    /// <summary>1 / (1 + e^-x).</summary>
    public string Sigmoid(string x) => Apply("Sigmoid", [x]);

    /// <summary>max(x, 0).</summary>
    public string Relu(string x) => Apply("Relu", [x]);

    /// <summary>Rounds half to even, like torch.round.</summary>
    public string Round(string x) => Apply("Round", [x]);

    /// <summary>floor x.</summary>
    public string Floor(string x) => Apply("Floor", [x]);

    /// <summary>ceil x.</summary>
    public string Ceil(string x) => Apply("Ceil", [x]);

    /// <summary>Clamps to [<paramref name="min"/>, <paramref name="max"/>]; either bound may be null (scalar values).</summary>
    public string Clip(string x, string? min, string? max) =>
        Apply("Clip", max is null ? (min is null ? [x] : [x, min]) : [x, min ?? "", max]);

    /// <summary>Clamps to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public string Clip(string x, float min, float max) => Clip(x, Scalar(min), Scalar(max));

    /// <summary>Converts to <paramref name="to"/>.</summary>
    public string Cast(string x, OnnxElementType to) => Apply("Cast", [x], OnnxAttribute.Int("to", (long)to));

    /// <summary>The input itself, under a new name.</summary>
    public string Identity(string x) => Apply("Identity", [x]);

    /// <summary>a == b (bool).</summary>
    public string Equal(string a, string b) => Apply("Equal", [a, b]);

    /// <summary>a &lt; b (bool).</summary>
    public string Less(string a, string b) => Apply("Less", [a, b]);

    /// <summary>a &lt;= b (bool).</summary>
    public string LessOrEqual(string a, string b) => Apply("LessOrEqual", [a, b]);

    /// <summary>a &gt; b (bool).</summary>
    public string Greater(string a, string b) => Apply("Greater", [a, b]);

    /// <summary>a &gt;= b (bool).</summary>
    public string GreaterOrEqual(string a, string b) => Apply("GreaterOrEqual", [a, b]);

    /// <summary>Logical not.</summary>
    public string Not(string x) => Apply("Not", [x]);

    /// <summary>Logical and.</summary>
    public string And(string a, string b) => Apply("And", [a, b]);

    /// <summary>Logical or.</summary>
    public string Or(string a, string b) => Apply("Or", [a, b]);

    /// <summary>Picks <paramref name="whenTrue"/> where <paramref name="condition"/> holds, else <paramref name="whenFalse"/>.</summary>
    public string Where(string condition, string whenTrue, string whenFalse) => Apply("Where", [condition, whenTrue, whenFalse]);
}
