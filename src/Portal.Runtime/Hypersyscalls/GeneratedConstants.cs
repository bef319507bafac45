using System.Globalization;
using System.Reflection;
using Portal.Abi;
using Portal.Typed;

namespace Portal.Hypersyscalls;

/// <summary>
/// Reads what the generator made, by name, for attributes (which can only name things): a constant's
/// value on an ABI (a <c>const</c>, a static field or property, or a <c>NAME(GuestAbi)</c> method
/// for values that differ between ABIs) and a member's offset (a record's <c>OffsetOf</c>).
/// </summary>
internal static class GeneratedConstants
{
    private const BindingFlags Static = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static;

    /// <summary>The value of <paramref name="name"/> in <paramref name="type"/> on <paramref name="abi"/>, as a register operand.</summary>
    /// <exception cref="ArgumentException">No such constant, or it is not an integer.</exception>
    public static ulong Value(Type type, string name, GuestAbi abi)
    {
        ArgumentNullException.ThrowIfNull(type);
        var value = type.GetField(name, Static) is { } field ? field.GetValue(null)
            : type.GetProperty(name, Static) is { GetMethod: not null } property ? property.GetValue(null)
            : type.GetMethod(name, Static, [typeof(GuestAbi)]) is { } method ? Invoke(method, abi)
            : throw new ArgumentException($"{type.Name} has no constant {name} (a const, static field or property, or a {name}(GuestAbi) method).");
        return value switch
        {
            sbyte or short or int or long => (ulong)Convert.ToInt64(value, CultureInfo.InvariantCulture),
            byte or ushort or uint or ulong => Convert.ToUInt64(value, CultureInfo.InvariantCulture),
            Enum e => (ulong)Convert.ToInt64(e, CultureInfo.InvariantCulture),
            _ => throw new ArgumentException($"{type.Name}.{name} is {value?.GetType().Name ?? "null"}, not an integer."),
        };
    }

    /// <summary>The offset of <paramref name="member"/> (C# or C name) in the generated record <paramref name="record"/> on <paramref name="abi"/>.</summary>
    /// <exception cref="ArgumentException">The type is not a generated record, or has no such member there.</exception>
    public static int OffsetOf(Type record, string member, GuestAbi abi)
    {
        ArgumentNullException.ThrowIfNull(record);
        var method = record.GetMethod(nameof(OffsetOf), BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(GuestAbi)]);
        if (method is null || method.ReturnType != typeof(int))
            throw new ArgumentException($"{record.Name} is not a record generated from a header (it has no OffsetOf(string, GuestAbi)).");
        return (int)Invoke(method, member, abi)!;
    }

    /// <summary>Invokes a generated method, unwrapping its exception (a GuestLayoutException says what is missing).</summary>
    private static object? Invoke(MethodInfo method, params object[] arguments)
    {
        try
        {
            return method.Invoke(null, arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is GuestLayoutException or ArgumentException)
        {
            throw new ArgumentException(e.InnerException.Message, e.InnerException);
        }
    }
}
