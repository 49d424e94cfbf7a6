using System.Reflection;
using NvmeMptls.Initiator;

namespace NvmeMptls.Tests.Architecture;

/// <summary>The client library's public API speaks only its own and BCL types: Transport and Crypto stay inside.</summary>
public sealed class ClientPublicApiTests
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    [Test]
    public void PublicSignatures_UseNoTransportOrCryptoType()
    {
        var leaks = new List<string>();
        foreach (var type in typeof(NvmeController).Assembly.GetExportedTypes())
        {
            Check(type.BaseType, $"{type} base type", leaks);
            foreach (var iface in type.GetInterfaces())
            {
                Check(iface, $"{type} interface", leaks);
            }

            foreach (var member in type.GetMembers(Declared))
            {
                foreach (var used in VisibleSignature(member))
                {
                    Check(used, $"{type}.{member.Name}", leaks);
                }
            }
        }

        Assert.That(leaks, Is.Empty);
    }

    private static IEnumerable<Type> VisibleSignature(MemberInfo member) => member switch
    {
        MethodInfo m when m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType),
        ConstructorInfo c when c.IsPublic || c.IsFamily || c.IsFamilyOrAssembly => c.GetParameters().Select(p => p.ParameterType),
        FieldInfo f when f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly => [f.FieldType],
        EventInfo e when e.AddMethod is { IsPublic: true } => [e.EventHandlerType!],
        _ => [],
    };

    private static void Check(Type? type, string where, List<string> leaks)
    {
        if (type is not null && Leaks(type))
        {
            leaks.Add($"{where}: {type}");
        }
    }

    private static bool Leaks(Type type)
    {
        if (type.HasElementType)
        {
            return Leaks(type.GetElementType()!);
        }

        if (type.IsGenericType && type.GetGenericArguments().Any(Leaks))
        {
            return true;
        }

        var ns = type.Namespace ?? "";
        return ns.StartsWith("NvmeMptls.Transport", StringComparison.Ordinal) || ns.StartsWith("NvmeMptls.Crypto", StringComparison.Ordinal);
    }
}
