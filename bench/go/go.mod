module leashbench

go 1.19
