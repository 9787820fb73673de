module github.com/multipool/multipool/go

go 1.23
