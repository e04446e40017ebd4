namespace FuncDiff;

using System;
using System.Collections.Generic;

/// <summary>Suggestions for misspelt names, by the one rule behind every "did you mean …?" of FuncDiff.</summary>
public static class Names
{
    /// <summary>
    /// The candidate that a misspelt <paramref name="name"/> most likely stands for, or null when none is close enough:
    /// <c>Names.Closest("lgo", ["exp", "log"])</c> is <c>"log"</c>.
    /// </summary>
    /// <remarks>
    /// Closeness is the optimal string alignment distance (insertions, deletions, substitutions and swaps of
    /// neighbours, so <c>lgo</c> is one edit from <c>log</c>), ignoring case: at most 1 edit for names of up to 3
    /// letters, 2 up to 6 and 3 beyond, and always fewer edits than the name has letters. Ties go to the earlier
    /// candidate; names longer than 64 characters get no suggestion.
    /// </remarks>
    /// <param name="name">What was written.</param>
    /// <param name="candidates">The names that exist, in order of preference.</param>
    public static string? Closest(string name, IEnumerable<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(candidates);
        var found = Functions.closestName(name, candidates);
        return found is null ? null : found.Value;
    }
}
