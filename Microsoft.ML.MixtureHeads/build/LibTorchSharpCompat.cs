// One file with two users: MSBuild compiles it on the fly (RoslynCodeTaskFactory) to patch the build output, and
// the library compiles it (with MIXTUREHEADS_NO_MSBUILD_TASK, its types internal) to patch at start-up an app folder
// that no build step reached (an app referencing the library's project from outside this repository).
// It must stay self-contained: netstandard APIs only, no other source file.
#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace Microsoft.ML.MixtureHeads.Build
{
    /// <summary>What <see cref="ElfVersionNeedPatcher.MarkVersionWeak"/> did to a file.</summary>
#if MIXTUREHEADS_NO_MSBUILD_TASK
    internal enum ElfPatchOutcome
#else
    public enum ElfPatchOutcome
#endif
    {
        /// <summary>The version requirement was strong; it is now weak and the file was rewritten.</summary>
        Patched,
        /// <summary>The version requirement was already weak; the file was not touched.</summary>
        AlreadyWeak,
        /// <summary>The file does not require that version at all; the file was not touched.</summary>
        NotReferenced,
    }

    /// <summary>A file that is not an ELF shared object this patch understands.</summary>
#if MIXTUREHEADS_NO_MSBUILD_TASK
    internal sealed class ElfPatchException : Exception
#else
    public sealed class ElfPatchException : Exception
#endif
    {
        /// <summary>Creates the error for <paramref name="path"/>.</summary>
        public ElfPatchException(string path, string problem) : base($"{path}: {problem}") => FilePath = path;

        /// <summary>The file at fault.</summary>
        public string FilePath { get; }
    }

    /// <summary>
    /// Marks one entry of an ELF file's version-needs table (<c>.gnu.version_r</c>) as weak (VER_FLG_WEAK).
    /// The dynamic loader then accepts a library that lacks that version instead of refusing to load.
    /// </summary>
    /// <remarks>
    /// libLibTorchSharp.so (TorchSharp 0.107.0) was linked by GCC 13, which records GLIBCXX_3.4.32 only for
    /// <c>std::ios_base_library_init()</c>, a link-time marker that is never called. Debian 12 and Ubuntu 22.04
    /// ship an older libstdc++ without that version. Setting the weak flag changes two bytes and nothing else.
    /// </remarks>
#if MIXTUREHEADS_NO_MSBUILD_TASK
    internal static class ElfVersionNeedPatcher
#else
    public static class ElfVersionNeedPatcher
#endif
    {
        private const ushort VerFlagWeak = 0x2;
        private const uint SectionTypeGnuVersionNeeds = 0x6ffffffe;
        private const ushort MachineX86_64 = 62;
        private const ushort MachineAArch64 = 183;

        /// <summary>The ELF machine number of the running process, or 0 where this patch has no opinion.</summary>
        public static ushort CurrentMachine => RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => MachineX86_64,
            Architecture.Arm64 => MachineAArch64,
            _ => 0,
        };

        /// <summary>Sets the weak flag on the requirement for <paramref name="versionName"/> in <paramref name="path"/>.</summary>
        /// <param name="path">An ELF64 little-endian shared object.</param>
        /// <param name="versionName">A needed version, e.g. <c>GLIBCXX_3.4.32</c>.</param>
        /// <param name="expectedMachine">The ELF machine the file must be built for; 0 accepts any.</param>
        /// <exception cref="ElfPatchException">The file is not ELF64 LE, is for another machine, or is malformed.</exception>
        /// <remarks>The new content is written to a sibling file that then replaces the original, so a hard link
        /// into a package cache is never modified and a reader never sees a half-written file.</remarks>
        public static ElfPatchOutcome MarkVersionWeak(string path, string versionName, ushort expectedMachine)
        {
            byte[] image = File.ReadAllBytes(path);
            int flagsOffset = FindVersionNeedFlags(image, path, versionName, expectedMachine);
            if (flagsOffset < 0) return ElfPatchOutcome.NotReferenced;

            ushort flags = ReadU16(image, flagsOffset);
            if ((flags & VerFlagWeak) != 0) return ElfPatchOutcome.AlreadyWeak;
            WriteU16(image, flagsOffset, (ushort)(flags | VerFlagWeak));

            string temporary = path + ".mixtureheads-tmp";
            File.Copy(path, temporary, overwrite: true); // keeps the file mode
            File.WriteAllBytes(temporary, image);
            File.Replace(temporary, path, destinationBackupFileName: null); // a rename: atomic
            return ElfPatchOutcome.Patched;
        }

        /// <summary>True when <paramref name="path"/> requires <paramref name="versionName"/> and the requirement is weak.</summary>
        public static bool IsVersionWeak(string path, string versionName)
        {
            byte[] image = File.ReadAllBytes(path);
            int flagsOffset = FindVersionNeedFlags(image, path, versionName, expectedMachine: 0);
            return flagsOffset >= 0 && (ReadU16(image, flagsOffset) & VerFlagWeak) != 0;
        }

        /// <summary>True when the bytes of <paramref name="libraryPath"/> name <paramref name="versionName"/>
        /// (a library that defines a symbol version carries its name in its string table).</summary>
        public static bool LibraryMentionsVersion(string libraryPath, string versionName)
        {
            byte[] haystack = File.ReadAllBytes(libraryPath);
            byte[] needle = Encoding.ASCII.GetBytes(versionName + "\0");
            for (int i = 0; i + needle.Length <= haystack.Length; i++)
            {
                if (haystack[i] != needle[0]) continue;
                int j = 1;
                while (j < needle.Length && haystack[i + j] == needle[j]) j++;
                if (j == needle.Length) return true;
            }
            return false;
        }

        /// <summary>The libstdc++.so.6 the dynamic loader would pick, or null when none is found.</summary>
        public static string? FindSystemLibStdCxx()
        {
            string? fromCache = LibStdCxxFromLdconfig();
            if (fromCache != null) return fromCache;
            string[] directories =
            {
                "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
            };
            foreach (string directory in directories)
            {
                string candidate = Path.Combine(directory, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        private static string? LibStdCxxFromLdconfig()
        {
            foreach (string ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig" })
            {
                if (!File.Exists(ldconfig)) continue;
                try
                {
                    var start = new ProcessStartInfo(ldconfig, "-p") { RedirectStandardOutput = true, UseShellExecute = false };
                    using Process process = Process.Start(start)!;
                    string listing = process.StandardOutput.ReadToEnd();
                    process.WaitForExit();
                    foreach (string line in listing.Split('\n'))
                    {
                        string trimmed = line.Trim();
                        if (!trimmed.StartsWith("libstdc++.so.6 ", StringComparison.Ordinal)) continue;
                        int arrow = trimmed.IndexOf("=> ", StringComparison.Ordinal);
                        if (arrow > 0 && File.Exists(trimmed.Substring(arrow + 3))) return trimmed.Substring(arrow + 3);
                    }
                }
                catch (Exception) { } // fall back to the usual directories
            }
            return null;
        }

        /// <returns>The file offset of the vna_flags field for <paramref name="versionName"/>, or -1.</returns>
        private static int FindVersionNeedFlags(byte[] image, string path, string versionName, ushort expectedMachine)
        {
            if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
                throw new ElfPatchException(path, "not an ELF file (bad magic number)");
            if (image[4] != 2) throw new ElfPatchException(path, "not a 64-bit ELF file");
            if (image[5] != 1) throw new ElfPatchException(path, "not a little-endian ELF file");
            ushort machine = ReadU16(image, 0x12);
            if (expectedMachine != 0 && machine != expectedMachine)
                throw new ElfPatchException(path, $"built for ELF machine {machine}, this process runs on machine {expectedMachine}");

            long sectionTable = (long)ReadU64(image, 0x28, path);
            int sectionSize = ReadU16(image, 0x3A);
            int sectionCount = ReadU16(image, 0x3C);
            if (sectionTable == 0 || sectionCount == 0) throw new ElfPatchException(path, "has no section headers");
            if (sectionSize < 64 || sectionTable + (long)sectionSize * sectionCount > image.Length)
                throw new ElfPatchException(path, "section header table lies outside the file (truncated?)");

            for (int index = 0; index < sectionCount; index++)
            {
                int header = checked((int)(sectionTable + (long)index * sectionSize));
                if (ReadU32(image, header + 4) != SectionTypeGnuVersionNeeds) continue;

                int needs = ToOffset(ReadU64(image, header + 24, path), image, path);
                int needCount = (int)ReadU32(image, header + 44);
                int stringSection = (int)ReadU32(image, header + 40);
                if (stringSection >= sectionCount) throw new ElfPatchException(path, "version-needs table links to a missing string table");
                int stringHeader = checked((int)(sectionTable + (long)stringSection * sectionSize));
                int strings = ToOffset(ReadU64(image, stringHeader + 24, path), image, path);
                return FindInVersionNeeds(image, path, needs, needCount, strings, versionName);
            }
            return -1;
        }

        private static int FindInVersionNeeds(byte[] image, string path, int needs, int needCount, int strings, string versionName)
        {
            int need = needs;
            for (int n = 0; n < needCount; n++)
            {
                int auxCount = ReadU16(image, need + 2);
                int aux = need + (int)ReadU32(image, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadCString(image, strings + (int)ReadU32(image, aux + 8), path);
                    if (name == versionName) return aux + 4;
                    uint nextAux = ReadU32(image, aux + 12);
                    if (nextAux == 0) break;
                    aux += (int)nextAux;
                }
                uint nextNeed = ReadU32(image, need + 12);
                if (nextNeed == 0) break;
                need += (int)nextNeed;
            }
            return -1;
        }

        private static int ToOffset(ulong value, byte[] image, string path) =>
            value < (ulong)image.Length ? (int)value : throw new ElfPatchException(path, "a section lies outside the file (truncated?)");

        private static string ReadCString(byte[] image, int offset, string path)
        {
            int end = offset;
            while (end < image.Length && image[end] != 0) end++;
            if (end >= image.Length) throw new ElfPatchException(path, "string table runs past the end of the file");
            return Encoding.ASCII.GetString(image, offset, end - offset);
        }

        private static ushort ReadU16(byte[] b, int o) => (ushort)(b[o] | b[o + 1] << 8);
        private static uint ReadU32(byte[] b, int o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        private static ulong ReadU64(byte[] b, int o, string path)
        {
            if (o + 8 > b.Length) throw new ElfPatchException(path, "header runs past the end of the file");
            return ReadU32(b, o) | (ulong)ReadU32(b, o + 4) << 32;
        }
        private static void WriteU16(byte[] b, int o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }
    }

#if !MIXTUREHEADS_NO_MSBUILD_TASK
    /// <summary>
    /// MSBuild task: in the build or publish output, makes TorchSharp's native library loadable where the system
    /// libstdc++ lacks the version it was linked against (Mode=auto), always (Mode=always) or never (Mode=never).
    /// </summary>
    public sealed class PatchLibTorchSharpVersionNeeds : Microsoft.Build.Utilities.Task
    {
        /// <summary>The copies of libLibTorchSharp.so in the output folder.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <summary>auto, always or never.</summary>
        public string Mode { get; set; } = "auto";

        /// <summary>The symbol version to relax.</summary>
        public string VersionName { get; set; } = "GLIBCXX_3.4.32";

        /// <inheritdoc />
        public override bool Execute()
        {
            string mode = (Mode ?? "auto").Trim().ToLowerInvariant();
            if (mode == "never") return true;
            if (mode != "auto" && mode != "always")
            {
                Log.LogError($"MixtureHeadsLibTorchSharpPatch must be auto, always or never, not '{Mode}'.");
                return false;
            }
            if (mode == "auto")
            {
                string? libStdCxx = ElfVersionNeedPatcher.FindSystemLibStdCxx();
                if (libStdCxx != null && ElfVersionNeedPatcher.LibraryMentionsVersion(libStdCxx, VersionName))
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"{libStdCxx} has {VersionName}; TorchSharp loads as shipped.");
                    return true;
                }
            }
            foreach (var item in Files)
            {
                string path = item.GetMetadata("FullPath");
                try
                {
                    ElfPatchOutcome outcome = ElfVersionNeedPatcher.MarkVersionWeak(path, VersionName, ElfVersionNeedPatcher.CurrentMachine);
                    if (outcome == ElfPatchOutcome.Patched)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, $"Marked {VersionName} weak in {path} (system libstdc++ lacks it; see docs/platforms.md).");
                }
                catch (ElfPatchException e)
                {
                    Log.LogError(e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
