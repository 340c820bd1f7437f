using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

public sealed class RotaryEmbeddingTests
{
    [Fact]
    public void Position_zero_is_unchanged_and_norms_are_kept()
    {
        using var scope = NewDisposeScope();
        var rope = new RotaryEmbedding(8, 32);
        var x = randn(2, 3, 20, 8);
        var y = rope.forward(x);
        Assert.True(y[.., .., 0].allclose(x[.., .., 0]));
        Assert.True(y.norm(-1).allclose(x.norm(-1), rtol: 1e-5, atol: 1e-6));
        Assert.False(y[.., .., 1..].allclose(x[.., .., 1..]));
    }

    [Fact]
    public void Scores_depend_only_on_relative_position()
    {
        using var scope = NewDisposeScope();
        var rope = new RotaryEmbedding(16, 64);
        manual_seed(11);
        var q = randn(16);
        var k = randn(16);
        // The same q at every position, the same k at every position: score(m, n) must depend on m - n only.
        var qs = rope.forward(q.expand(64, 16));
        var ks = rope.forward(k.expand(64, 16));
        float Score(int m, int n) => (qs[m] * ks[n]).sum().item<float>();
        Assert.Equal(Score(10, 3), Score(40, 33), tolerance: 1e-5);   // an absolute bound: rounding to 4 places failed by chance
        Assert.Equal(Score(5, 9), Score(50, 54), tolerance: 1e-5);
        Assert.NotEqual(Score(10, 3), Score(10, 4), 3);
    }

    [Fact]
    public void Frequencies_follow_theta_and_the_rotate_half_layout()
    {
        using var scope = NewDisposeScope();
        var rope = new RotaryEmbedding(4, 8, theta: 100);
        // D = 4: pairs (0, 2) and (1, 3) rotate by position * 100^0 and position * 100^-0.5.
        var e0 = tensor(new float[] { 1, 0, 0, 0 }).expand(8, 4);
        var y = rope.forward(e0);
        for (int p = 0; p < 8; p++)
        {
            Assert.Equal(Math.Cos(p), y[p, 0].item<float>(), 5);
            Assert.Equal(Math.Sin(p), y[p, 2].item<float>(), 5);
        }
        var e1 = tensor(new float[] { 0, 1, 0, 0 }).expand(8, 4);
        Assert.Equal(Math.Sin(3 * 0.1), rope.forward(e1)[3, 3].item<float>(), 5);
    }

    [Fact]
    public void Rotate_at_positions_matches_the_rows_of_forward()
    {
        using var scope = NewDisposeScope();
        var rope = new RotaryEmbedding(8, 16);
        var x = randn(2, 16, 8);
        var full = rope.forward(x);
        var positions = tensor(new long[] { 3, 0, 15, 7, 7 }).expand(2, 5);
        var gathered = x.gather(1, positions.unsqueeze(-1).expand(2, 5, 8));
        var expected = full.gather(1, positions.unsqueeze(-1).expand(2, 5, 8));
        Assert.True(rope.Rotate(gathered, positions).allclose(expected));
    }

    [Fact]
    public void Onnx_emission_matches_forward_at_any_sequence_length_and_stores_each_table_once()
    {
        using var scope = NewDisposeScope();
        var rope = new RotaryEmbedding(8, 32);
        var graph = new OnnxGraphBuilder();
        string q = graph.Input("q", OnnxElementType.Float, "batch", 2, "tokens", 8);
        string k = graph.Input("k", OnnxElementType.Float, "batch", 2, "tokens", 8);
        graph.Output(rope.EmitOnnx(graph, q), "q_rotated", OnnxElementType.Float, "batch", 2, "tokens", 8);
        graph.Output(rope.EmitOnnx(graph, k), "k_rotated", OnnxElementType.Float, "batch", 2, "tokens", 8);
        Assert.Equal(2, graph.ToModel().Initializers.Count(i => i.Dims.SequenceEqual([32L, 8])));   // cos and sin, shared by q and k

        using var session = new OnnxSession(graph.ToBytes());
        foreach (long tokens in new[] { 5L, 32L })
        {
            var x = randn(3, 2, tokens, 8);
            var y = randn(3, 2, tokens, 8);
            var outputs = session.Run(("q", x), ("k", y));
            ParityAssert.Close($"q rotated, N={tokens}", rope.forward(x), outputs["q_rotated"], Tolerance.Fp32);
            ParityAssert.Close($"k rotated, N={tokens}", rope.forward(y), outputs["k_rotated"], Tolerance.Fp32);
        }
    }

    [Fact]
    public void Has_no_parameters_or_state_and_rejects_bad_shapes()
    {
        using var scope = NewDisposeScope();
        var rope = new RotaryEmbedding(8, 16);
        Assert.Empty(rope.parameters());
        Assert.Empty(rope.state_dict());
        Assert.Throws<ArgumentException>(() => new RotaryEmbedding(7, 16));
        Assert.Throws<ArgumentException>(() => rope.forward(randn(2, 17, 8)));
        Assert.Throws<ArgumentException>(() => rope.forward(randn(2, 4, 6)));
        Assert.Throws<ArgumentException>(() => rope.Rotate(randn(2, 4, 8), zeros(2, 3, ScalarType.Int64)));
    }
}
