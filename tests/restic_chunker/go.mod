module multipool/tests/restic_chunker

go 1.23

require github.com/restic/chunker v0.4.0
