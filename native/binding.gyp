{
  "targets": [
    {
      "target_name": "repdyn_linalg",
      "sources": ["linalg.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas"]
    }
  ]
}
