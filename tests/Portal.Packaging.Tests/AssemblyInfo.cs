using Microsoft.VisualStudio.TestTools.UnitTesting;

// Each test runs dotnet pack and whole restores and builds, which use both cores: nothing to run beside one.
[assembly: DoNotParallelize]
