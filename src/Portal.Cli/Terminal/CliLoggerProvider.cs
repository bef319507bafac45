using Microsoft.Extensions.Logging;

namespace Portal.Cli.Terminal;

/// <summary>
/// Log lines on stderr, written synchronously so they interleave with the guest's output in order.
/// Plugins (any category outside Portal) log from Information up: their messages are the point of
/// running them. Portal's own categories show warnings and errors, and their Information messages
/// (building the guest, guest ready) become progress reports; --verbose shows everything from Debug.
/// </summary>
internal sealed class CliLoggerProvider(CliConsole console, bool verbose) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new CliLogger(console, verbose, categoryName);

    public void Dispose()
    {
    }

    private sealed class CliLogger(CliConsole console, bool verbose, string category) : ILogger
    {
        private readonly bool _isPortal = category.StartsWith("Portal.", StringComparison.Ordinal);
        private readonly string _shortName = category[(category.LastIndexOf('.') + 1)..];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= (verbose ? LogLevel.Debug : LogLevel.Information);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var message = formatter(state, exception);
            if (_isPortal && logLevel == LogLevel.Information && !verbose)
            {
                console.Report(message);
                return;
            }
            var line = $"{Level(logLevel)} {_shortName}: {message}";
            if (exception is not null)
                line += verbose ? $"\n{exception}" : $" ({exception.GetType().Name}: {exception.Message})";
            console.Say(line);
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
    }
}
