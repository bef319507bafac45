// netstandard2.0 lacks these; the compiler needs them for records and init-only properties.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit
    {
    }
}
