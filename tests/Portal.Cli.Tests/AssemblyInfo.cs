using Microsoft.VisualStudio.TestTools.UnitTesting;

// Real guests share two host cores: one test at a time.
[assembly: DoNotParallelize]
