using System;
using System.Collections.Generic;
using System.Linq;

namespace Portal.Generators.Model;

/// <summary>
/// Which integer members are big-endian in memory on every ABI (network byte order) instead of in the
/// guest's order. The C compiler cannot tell (a port is a plain uint16_t), so this is a convention: the
/// standard socket members below and the kernel's <c>__be16</c>/<c>__be32</c>/<c>__be64</c> types by
/// default, extended by the PortalHeader metadata <c>NetworkOrder</c> and overridden by <c>GuestOrder</c>.
/// Entries are member paths: <c>record.member</c>, or <c>record.inline_member.member</c> into a record
/// defined inline (the record is the C tag or typedef name).
/// </summary>
internal sealed class ByteOrderRules
{
    /// <summary>Standard members that hold network-order values on every ABI (applied when the header has them).</summary>
    internal static readonly IReadOnlyList<string> Defaults =
    [
        "in_addr.s_addr",
        "sockaddr_in.sin_port",
        "sockaddr_in6.sin6_port",
        "sockaddr_in6.sin6_flowinfo",
        "sockaddr_ll.sll_protocol",
    ];

    /// <summary>The Linux kernel's annotated big-endian types (linux/types.h): a member of one is network-order by its type.</summary>
    private static readonly HashSet<string> BigEndianTypes = new(StringComparer.Ordinal) { "__be16", "__be32", "__be64" };

    private const string NetworkMetadata = "NetworkOrder";
    private const string GuestMetadata = "GuestOrder";

    private readonly HashSet<string> _defaults = new(Defaults, StringComparer.Ordinal);
    private readonly Dictionary<string, string> _user = new(StringComparer.Ordinal);   // path → the metadata that named it
    private readonly HashSet<string> _matched = new(StringComparer.Ordinal);

    private ByteOrderRules()
    {
    }

    /// <summary>Reads the two metadata values (<c>;</c>-separated paths); malformed entries become <paramref name="errors"/>.</summary>
    public static ByteOrderRules Parse(string? networkOrder, string? guestOrder, List<string> errors)
    {
        var rules = new ByteOrderRules();
        rules.Add(NetworkMetadata, networkOrder, errors);
        rules.Add(GuestMetadata, guestOrder, errors);
        return rules;
    }

    private void Add(string metadata, string? value, List<string> errors)
    {
        // ';' as MSBuild lists are written; ',' as they arrive (Portal.targets: ';' starts a comment in an .editorconfig).
        foreach (var entry in (value ?? "").Split(';', ',').Select(e => e.Trim()).Where(e => e.Length > 0))
        {
            var parts = entry.Split('.');
            if (parts.Length < 2 || parts.Any(p => p.Length == 0 || !p.All(c => char.IsLetterOrDigit(c) || c == '_')))
            {
                errors.Add($"{metadata} entry '{entry}' is not a member path: write record.member (e.g. sockaddr_in.sin_port), ';' or ',' between entries.");
                continue;
            }
            if (_user.TryGetValue(entry, out var other))
            {
                errors.Add(other == metadata
                    ? $"{metadata} names {entry} twice."
                    : $"{entry} is named by both NetworkOrder and GuestOrder; a member has one byte order.");
                continue;
            }
            _user[entry] = metadata;
        }
    }

    /// <summary>
    /// Whether the member at <paramref name="path"/> (of C type <paramref name="spelling"/>) is network-order:
    /// what the metadata says, else the defaults.
    /// </summary>
    public bool IsNetworkOrder(string path, string spelling, bool isInteger, List<string> errors) =>
        Declared(path, spelling, isInteger, errors) ?? (isInteger && (_defaults.Contains(path) || BigEndianTypes.Contains(spelling)));

    /// <summary>
    /// What the metadata says about <paramref name="path"/>: true (NetworkOrder), false (GuestOrder), or null
    /// (not named). An entry that names a member that is not an integer is an error in <paramref name="errors"/>.
    /// </summary>
    public bool? Declared(string path, string spelling, bool isInteger, List<string> errors)
    {
        if (!_user.TryGetValue(path, out var metadata))
            return null;
        if (_matched.Add(path) && !isInteger)
        {
            errors.Add($"{metadata} names {path}, which is a {spelling}: only integer members have a byte order "
                + "(name the integer inside it, e.g. in_addr.s_addr).");
        }
        return isInteger && metadata == NetworkMetadata;
    }

    /// <summary>Metadata entries that named no member of the header (a typo would otherwise decode silently in the wrong order).</summary>
    public IEnumerable<string> Unmatched(IEnumerable<string> recordNames) =>
        _user.Where(pair => !_matched.Contains(pair.Key)).Select(pair =>
        {
            var record = pair.Key.Substring(0, pair.Key.IndexOf('.'));
            return recordNames.Contains(record, StringComparer.Ordinal)
                ? $"{pair.Value} names {pair.Key}, but {record} has no such member (paths go through inline records by member name; a member of a named struct is named on that struct, e.g. in_addr.s_addr)."
                : $"{pair.Value} names {pair.Key}, but the header generates no record {record} (is it in Structs?).";
        });
}
