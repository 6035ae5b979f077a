// Node programs built from the CLI and the C tests see the process environment
// (CAPT_ASSETS, ...); Emscripten otherwise gives getenv() a fixed, made-up one.
Module['preRun'] = Module['preRun'] || [];
Module['preRun'].push(function () {
  if (typeof ENV !== 'undefined' && typeof process !== 'undefined') Object.assign(ENV, process.env);
});
