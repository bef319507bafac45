using System.Reflection;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Generators.Emit;

namespace Portal.Generators.Tests;

/// <summary>
/// The generator (netstandard2.0, so it cannot reference Portal.Runtime) keeps its own map from a manifest's ABI name to
/// the <see cref="GuestAbiId"/> member its layouts are stored under: it must be <see cref="GuestAbi.All"/>, the list of ABIs.
/// </summary>
[TestClass]
public sealed class AbiIdTests
{
    [TestMethod]
    public void The_emitters_abi_ids_are_the_guest_abis()
    {
        var field = typeof(HeaderEmitter).GetField("AbiIds", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new AssertFailedException("HeaderEmitter.AbiIds (the ABI name → GuestAbiId map) moved: update this test");
        var emitted = ((IReadOnlyDictionary<string, string>)field.GetValue(null)!).OrderBy(p => p.Key, StringComparer.Ordinal).ToArray();
        var expected = GuestAbi.All.ToDictionary(a => a.Name, a => a.Id.ToString()).OrderBy(p => p.Key, StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(expected, emitted, "src/Portal.Generators/Emit/HeaderEmitter.cs's AbiIds");
    }
}
