namespace Portal.Benchmarks.Handlers;

/// <summary>What a benchmarked handler does; each has a seed-style and a batched version (<see cref="ScenarioHandlers"/>).</summary>
public enum HandlerScenario
{
    /// <summary>Nothing: what handling a syscall costs before the handler touches memory.</summary>
    Empty,

    /// <summary>The seed's RAEth handler: check ifr_name, follow ifr_data, read off, write val.</summary>
    Raeth,

    /// <summary>The seed's ioctl_interaction handler (samples/IoctlInteraction).</summary>
    IoctlInteraction,

    /// <summary>Read a record with five members.</summary>
    Record,

    /// <summary>Follow a pointer member and read the record it points to.</summary>
    Chase,

    /// <summary>Read 64 KiB.</summary>
    Bulk,
}

/// <summary>How a handler is written.</summary>
public enum HandlerStyle
{
    /// <summary>One operation per call, each awaited before the next, as the seed's Python plugins do it.</summary>
    SeedStyle,

    /// <summary>Operations started together, typed loads with prefetch, staged writes: Portal's batching.</summary>
    Batched,
}
