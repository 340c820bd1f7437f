using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>
/// TorchSharp 0.107 passes temporary <c>Scalar</c>s to native code without keeping them alive, so a garbage collection
/// on another thread can free one mid-call (docs/platforms.md). The library therefore passes only Scalars that outlive
/// the call (<c>Layers/Scalars.cs</c>, or <c>using var s = x.ToScalar()</c>). This test makes the rule mechanical: it
/// reads the IL of every method of the library and fails on each call that makes a temporary Scalar: an implicit
/// conversion to Scalar, and the Tensor <c>+</c> operator and <c>add</c>/<c>add_</c> without an alpha, which pass a
/// temporary <c>alpha = 1</c> (libtorch's <c>sub</c> takes no alpha in TorchSharp 0.107, so <c>-</c> makes none).
/// </summary>
public sealed class TemporaryScalarTests
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>(declaring type, method) pairs that make a temporary Scalar; for add only the one-argument overloads do.</summary>
    private static bool MakesTemporaryScalar(string type, string method, int parameters) => (type, method) switch
    {
        ("TorchSharp.Scalar", "op_Implicit") => true,
        ("TorchSharp.torch+Tensor", "op_Addition") => true,
        ("TorchSharp.torch+Tensor", "add" or "add_") => parameters == 1,
        _ => false,
    };

    [Fact]
    public void The_library_makes_no_temporary_TorchSharp_scalars()
    {
        var offenders = Calls(typeof(ModelRegistry).Assembly.Location)
            .Where(c => MakesTemporaryScalar(c.Type, c.Method, c.Parameters))
            .Select(c => $"{c.Caller} calls {c.Type}.{c.Method}")
            .Distinct()
            .ToList();
        Assert.True(offenders.Count == 0, $"{offenders.Count} calls make temporary Scalars:\n{string.Join("\n", offenders)}");
    }

    [Fact]
    public void The_scanner_sees_temporary_scalars_where_there_are_some()
    {
        // This test assembly has them (tests may); the scanner must find the implicit conversions and the operators.
        var calls = Calls(typeof(TemporaryScalarTests).Assembly.Location).ToList();
        Assert.Contains(calls, c => c.Type == "TorchSharp.Scalar" && c.Method == "op_Implicit");
        Assert.Contains(calls, c => c.Type == "TorchSharp.torch+Tensor" && c.Method == "op_Addition");
    }

    private sealed record Call(string Caller, string Type, string Method, int Parameters);

    /// <summary>Every call, callvirt, newobj and ldftn of every method body in the assembly at <paramref name="path"/>.</summary>
    private static IEnumerable<Call> Calls(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var reader = pe.GetMetadataReader();
        var calls = new List<Call>();
        foreach (var handle in reader.MethodDefinitions)
        {
            var definition = reader.GetMethodDefinition(handle);
            if (definition.RelativeVirtualAddress == 0) continue;
            string caller = $"{TypeName(reader, definition.GetDeclaringType())}.{reader.GetString(definition.Name)}";
            var il = pe.GetMethodBody(definition.RelativeVirtualAddress).GetILReader();
            while (il.RemainingBytes > 0)
            {
                short value = il.ReadByte();
                if (value == 0xFE) value = (short)(0xFE00 | il.ReadByte());
                var opCode = OpCodesByValue[value];
                if (opCode.OperandType == OperandType.InlineMethod)
                {
                    var target = Resolve(reader, MetadataTokens.EntityHandle(il.ReadInt32()));
                    if (target is { } t) calls.Add(new Call(caller, t.Type, t.Method, t.Parameters));
                }
                else Skip(ref il, opCode.OperandType);
            }
        }
        return calls;
    }

    private static (string Type, string Method, int Parameters)? Resolve(MetadataReader reader, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodSpecification:
                return Resolve(reader, reader.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            case HandleKind.MemberReference:
                var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                var blob = reader.GetBlobReader(member.Signature);
                var header = blob.ReadSignatureHeader();
                if (header.IsGeneric) blob.ReadCompressedInteger();
                int parameters = blob.ReadCompressedInteger();
                string? type = member.Parent.Kind switch
                {
                    HandleKind.TypeReference => TypeName(reader, (TypeReferenceHandle)member.Parent),
                    HandleKind.TypeDefinition => TypeName(reader, (TypeDefinitionHandle)member.Parent),
                    _ => null,   // members of generic instantiations: none of the rule's types is generic
                };
                return type is null ? null : (type, reader.GetString(member.Name), parameters);
            default:
                return null;     // our own methods
        }
    }

    private static string TypeName(MetadataReader reader, TypeReferenceHandle handle)
    {
        var type = reader.GetTypeReference(handle);
        string name = reader.GetString(type.Name);
        return type.ResolutionScope.Kind == HandleKind.TypeReference
            ? $"{TypeName(reader, (TypeReferenceHandle)type.ResolutionScope)}+{name}"
            : $"{reader.GetString(type.Namespace)}.{name}";
    }

    private static string TypeName(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        string name = reader.GetString(type.Name);
        var declaring = type.GetDeclaringType();
        return declaring.IsNil ? $"{reader.GetString(type.Namespace)}.{name}" : $"{TypeName(reader, declaring)}+{name}";
    }

    private static void Skip(ref BlobReader il, OperandType operand)
    {
        switch (operand)
        {
            case OperandType.InlineNone: break;
            case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.Offset += 1; break;
            case OperandType.InlineVar: il.Offset += 2; break;
            case OperandType.InlineI8 or OperandType.InlineR: il.Offset += 8; break;
            case OperandType.InlineSwitch:
                int targets = il.ReadInt32();   // read before the offset: `il.Offset += 4 * il.ReadInt32()` would lose these 4 bytes
                il.Offset += 4 * targets;
                break;
            default: il.Offset += 4; break;   // tokens, 32-bit branches, ints and floats
        }
    }
}
