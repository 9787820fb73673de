import Multipool
print("todo")
