# Warning flags shared by every fedtrain target.
add_library(fedtrain_warnings INTERFACE)
add_library(fedtrain::warnings ALIAS fedtrain_warnings)
target_compile_options(fedtrain_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  # Designated initializers ({.name = "es", .ranks = 2}) rely on default member
  # initializers for the fields they leave out; GCC 12 still warns about those.
  $<$<COMPILE_LANGUAGE:CXX>:-Wno-missing-field-initializers>
  # GCC 12 reports a false -Wrestrict inside std::string (GCC bug 105329).
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
