using Microsoft.Extensions.AI;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Generation;

/// <summary>
/// <see cref="OnnxCausalLMChatClient"/>: streaming and non-streaming agree, chat options take effect, cancellation is
/// honoured, and an app that references only the scoring package loads a saved model and streams a completion.
/// </summary>
public sealed class OnnxChatClientTests : IDisposable
{
    private readonly MoHCausalLM _model = CausalLMCacheTests.Model(
        CausalLMCacheTests.ConfigOf("learned MoH, MH-MoE h=2") with { VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 64 }, seed: 75);

    public void Dispose() => _model.Dispose();

    private OnnxCausalLMChatClient Client() =>
        new(new OnnxCausalLM(CausalLMDecoderOnnx.Export(_model, new ByteTokenizer())), new GenerationOptions { MaxNewTokens = 30 }, ownsModel: true);

    private static readonly ChatMessage[] Messages = [new(ChatRole.System, "A story."), new(ChatRole.User, "Once upon a")];

    private static async Task<(string Text, List<ChatResponseUpdate> Updates)> Stream(IChatClient client, ChatOptions? options, CancellationToken token = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Messages, options, token)) updates.Add(update);
        return (string.Concat(updates.Select(u => u.Text)), updates);
    }

    [Fact]
    public async Task Streaming_concatenates_to_the_non_streaming_response_and_to_the_generator_text()
    {
        using var client = Client();
        var options = new ChatOptions { Temperature = 0.9f, Seed = 5 };
        var response = await client.GetResponseAsync(Messages, options);
        var (streamed, updates) = await Stream(client, options);
        Assert.Equal(response.Text, streamed);
        Assert.True(updates.Count(u => u.Text.Length > 0) > 1, "the response did not stream");
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Equal(response.FinishReason, updates[^1].FinishReason);

        // The same text as the generator on the documented prompt, with the end-of-text id as a stop token.
        var model = client.GetService<OnnxCausalLM>()!;
        Assert.Equal("A story.\nOnce upon a", OnnxCausalLMChatClient.FormatPrompt(Messages));
        string expected = string.Concat(model.GenerateText("A story.\nOnce upon a", new GenerationOptions { MaxNewTokens = 30, Temperature = 0.9, Seed = 5 }));
        Assert.Equal(expected, response.Text);
        Assert.Equal("moh-causal-lm", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task Chat_options_map_onto_generation_options_and_take_effect()
    {
        using var client = Client();
        var resolved = client.Resolve(new ChatOptions
        {
            MaxOutputTokens = 7, Temperature = 0.5f, TopK = 3, TopP = 0.8f, Seed = 42, StopSequences = ["xyz"],
            AdditionalProperties = new() { [OnnxCausalLMChatClient.RepetitionPenaltyKey] = 1.25 },
        });
        Assert.Equal((7, 0.5, 3, 42, 1.25), (resolved.MaxNewTokens, resolved.Temperature, resolved.TopK, resolved.Seed, resolved.RepetitionPenalty));
        Assert.Equal(0.8, resolved.TopP, 1e-6);
        Assert.Equal(["xyz"], resolved.StopSequences);
        Assert.Equal([ByteTokenizer.EndOfText], resolved.StopTokens);

        var five = await client.GetResponseAsync(Messages, new() { MaxOutputTokens = 5, Temperature = 0 });
        Assert.Equal((5L, ChatFinishReason.Length), (five.Usage!.OutputTokenCount!.Value, five.FinishReason));
        var greedy = (await client.GetResponseAsync(Messages, new() { Temperature = 0 })).Text;
        Assert.Equal(greedy, (await client.GetResponseAsync(Messages, new() { TopK = 1, Seed = 3 })).Text);
        var seeded = (await client.GetResponseAsync(Messages, new() { Seed = 1 })).Text;
        Assert.Equal(seeded, (await client.GetResponseAsync(Messages, new() { Seed = 1 })).Text);
        Assert.NotEqual(seeded, (await client.GetResponseAsync(Messages, new() { Seed = 2 })).Text);
        Assert.NotEqual(greedy, seeded);

        char stop = seeded.Skip(seeded.Length / 2).First(c => c != '\uFFFD');
        var stopped = await client.GetResponseAsync(Messages, new() { Seed = 1, StopSequences = [stop.ToString()] });
        Assert.Equal(seeded[..seeded.IndexOf(stop)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);

        Assert.Equal("TopP", Assert.Throws<ArgumentOutOfRangeException>(() => client.Resolve(new() { TopP = 2 })).ParamName);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Messages, new() { Temperature = -1 }));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "")]));
    }

    [Fact]
    public async Task Cancellation_stops_both_calls()
    {
        using var client = Client();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync(Messages, null, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Stream(client, null, cancelled.Token));

        // Cancelled after the first piece: no further piece comes.
        using var midway = new CancellationTokenSource();
        int pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(Messages, new() { Temperature = 0 }, midway.Token))
            {
                pieces++;
                midway.Cancel();
            }
        });
        Assert.Equal(1, pieces);
    }

    private const string ChildProgram = """
        using Microsoft.Extensions.AI;
        using Microsoft.ML.MixtureHeads.Generation;

        using var client = OnnxCausalLMChatClient.Load(args[0]);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 24 };
        int pieces = 0;
        var text = new System.Text.StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, args[1])], options))
        {
            if (update.Text.Length > 0) pieces++;
            text.Append(update.Text);
        }
        Console.WriteLine("text:" + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text.ToString())));
        Console.WriteLine("streamed:" + (pieces > 1));
        Console.WriteLine("torch-loaded:" + AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name!.Contains("Torch", StringComparison.OrdinalIgnoreCase)));
        """;

    [Fact]
    public void A_child_process_with_only_the_scoring_package_streams_the_TorchSharp_greedy_completion()
    {
        string work = Directory.CreateTempSubdirectory("mixtureheads-lmchat-").FullName;
        try
        {
            string zip = Path.Combine(work, "lm.zip");
            var codec = new ByteTokenizer();
            CausalLMDecoderOnnx.Save(_model, codec, zip);
            const string prompt = "The dog";
            string expected = string.Concat(new CausalLMGenerator(_model).GenerateText(prompt, codec,
                new GenerationOptions { Temperature = 0, MaxNewTokens = 24, StopTokens = [ByteTokenizer.EndOfText] }));

            using var app = ChildProject.DeployedScorer("lm-chat", ChildProgram);
            var lines = app.Run(zip, prompt).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

            Assert.Equal(["text:" + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(expected)), "streamed:True", "torch-loaded:False"], lines);
            Assert.True(expected.Length > 4, $"a degenerate completion: '{expected}'");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
