using Microsoft.Extensions.Logging;

namespace Portal.Samples;

/// <summary>
/// Writes log lines synchronously, so they interleave correctly with the guest's output
/// (the standard console logger writes from a background queue).
/// </summary>
internal sealed class LineLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new LineLogger(categoryName);

    public void Dispose()
    {
    }

    private sealed class LineLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            Console.WriteLine($"  [host {category}] {formatter(state, exception)}");
            if (exception is not null)
                Console.WriteLine($"    {exception.GetType().Name}: {exception.Message}");
        }
    }
}
