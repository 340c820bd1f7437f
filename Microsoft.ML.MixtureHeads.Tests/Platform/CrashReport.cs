using System.Text;
using System.Text.Json;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>Reads the JSON crash reports the .NET runtime writes (DOTNET_EnableCrashReport) into a short text.</summary>
internal static class CrashReport
{
    /// <summary>The crashed thread's frames and every managed thread's top frames, from each report in <paramref name="folder"/>; empty when there is none.</summary>
    public static string Summarize(string folder)
    {
        var text = new StringBuilder();
        foreach (string file in Directory.EnumerateFiles(folder, "*.crashreport.json"))
        {
            try
            {
                using var report = JsonDocument.Parse(File.ReadAllText(file));
                text.AppendLine().AppendLine($"crash report {Path.GetFileName(file)}:");
                foreach (var thread in report.RootElement.GetProperty("payload").GetProperty("threads").EnumerateArray())
                {
                    bool crashed = thread.TryGetProperty("crashed", out var c) && c.GetString() == "true";
                    bool managed = thread.TryGetProperty("is_managed", out var m) && m.GetString() == "true";
                    if (!crashed && !managed) continue;
                    string exception = thread.TryGetProperty("managed_exception_type", out var e) ? $" {e.GetString()}" : "";
                    text.AppendLine($"  thread {Prop(thread, "native_thread_id")}{(crashed ? " (crashed)" : "")}{exception}");
                    foreach (var frame in thread.GetProperty("stack_frames").EnumerateArray().Take(crashed ? 40 : 8))
                        text.AppendLine($"    {Prop(frame, "method_name")}{Prop(frame, "unmanaged_name")} [{Prop(frame, "native_module")}{Prop(frame, "filename")}]");
                }
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
            {
                text.AppendLine($"crash report {Path.GetFileName(file)} unreadable: {e.Message}");
            }
        }
        return text.ToString();
    }

    private static string Prop(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";
}
