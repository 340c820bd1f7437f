using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.MixtureHeads.Build;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Platform;

/// <summary>
/// Makes TorchSharp's native library load on systems whose libstdc++ is older than the one it was linked against
/// (Debian 12, Ubuntu 22.04; docs/platforms.md), also where no build step of ours ran - an app that references the
/// library's project from outside this repository - and replaces TorchSharp's misleading load error with the cause.
/// </summary>
internal static class LibTorchSharpRuntime
{
    /// <summary>The symbol version GCC 13 recorded that older libstdc++ lacks.</summary>
    public const string MissingVersion = "GLIBCXX_3.4.32";

    private const string LibraryName = "libLibTorchSharp.so";

    /// <summary>What start-up found and did, for the error message should TorchSharp still fail to load.</summary>
    private static string? _startUpNote;

    /// <summary>
    /// Runs when this assembly loads, before any TorchSharp call of ours: where the system libstdc++ lacks the
    /// version, marks it weak in the app folder's copies of the library (the build step's two bytes, by rename).
    /// Cheap when there is nothing to do; never throws.
    /// </summary>
#pragma warning disable CA2255 // deliberate: it must run before TorchSharp's own static initializer loads the library
    [ModuleInitializer]
    internal static void PatchAppFolder()
    {
        try
        {
            _startUpNote = PatchIfNeeded(AppContext.BaseDirectory, ElfVersionNeedPatcher.FindSystemLibStdCxx);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfPatchException)
        {
            _startUpNote = $"start-up could not mark {MissingVersion} weak: {e.Message}";
        }
    }
#pragma warning restore CA2255

    /// <summary>The copies of libLibTorchSharp.so an app in <paramref name="appFolder"/> may load.</summary>
    internal static IEnumerable<string> LibraryCopies(string appFolder) =>
        new[] { Path.Combine(appFolder, LibraryName), Path.Combine(appFolder, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", LibraryName),
                Path.Combine(appFolder, "runtimes", "linux-x64", "native", LibraryName), Path.Combine(appFolder, "runtimes", "linux-arm64", "native", LibraryName) }
            .Where(File.Exists).Distinct();

    /// <summary>Marks the version weak in every copy under <paramref name="appFolder"/> when the system libstdc++ lacks it.</summary>
    /// <returns>What was patched, for messages; null when nothing needed it.</returns>
    internal static string? PatchIfNeeded(string appFolder, Func<string?> systemLibStdCxx)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var copies = LibraryCopies(appFolder).ToList();
        if (copies.Count == 0) return null;
        string? libStdCxx = systemLibStdCxx();
        if (libStdCxx is not null && ElfVersionNeedPatcher.LibraryMentionsVersion(libStdCxx, MissingVersion)) return null;
        var patched = copies.Where(copy => ElfVersionNeedPatcher.MarkVersionWeak(copy, MissingVersion, ElfVersionNeedPatcher.CurrentMachine) == ElfPatchOutcome.Patched).ToList();
        return patched.Count == 0 ? null : $"start-up marked {MissingVersion} weak in {string.Join(", ", patched)} ({libStdCxx ?? "no libstdc++.so.6 found"} lacks it)";
    }

    /// <summary>Loads TorchSharp's CPU backend, or throws an error that says why it cannot load and what to do.</summary>
    /// <exception cref="PlatformNotSupportedException">The native backend does not load here.</exception>
    public static void EnsureLoaded()
    {
        try
        {
            InitializeDeviceType(TorchSharp.DeviceType.CPU);
        }
        catch (Exception e) when (e is NotSupportedException or TypeInitializationException or DllNotFoundException)
        {
            throw new PlatformNotSupportedException(Diagnose(AppContext.BaseDirectory, ElfVersionNeedPatcher.FindSystemLibStdCxx(), _startUpNote), e);
        }
    }

    /// <summary>Why TorchSharp's native library does not load for an app in <paramref name="appFolder"/>.</summary>
    internal static string Diagnose(string appFolder, string? libStdCxx, string? startUpNote)
    {
        var copies = LibraryCopies(appFolder).ToList();
        if (copies.Count == 0)
            return $"TorchSharp's native backend is not in the app folder ({appFolder}): reference TorchSharp-cpu (or a TorchSharp-cuda package) " +
                   "in the app project itself, next to Microsoft.ML.MixtureHeads.";
        var strong = copies.Where(c => !ElfVersionNeedPatcher.IsVersionWeak(c, MissingVersion)).ToList();
        bool systemLacks = libStdCxx is null || !ElfVersionNeedPatcher.LibraryMentionsVersion(libStdCxx, MissingVersion);
        if (strong.Count > 0 && systemLacks)
            return $"{strong[0]} was linked against libstdc++ {MissingVersion} (GCC 13), which this system's libstdc++ ({libStdCxx ?? "not found"}) lacks, " +
                   $"and it could not be relaxed ({startUpNote ?? "the app folder was not patched"}). Reference Microsoft.ML.MixtureHeads as a NuGet package, " +
                   "or import its build/Microsoft.ML.MixtureHeads.targets, so the build marks the version weak; or make the app folder writable. See docs/platforms.md.";
        return $"TorchSharp's native backend in {string.Join(", ", copies)} does not load: see the inner exception. {startUpNote}".TrimEnd();
    }
}
